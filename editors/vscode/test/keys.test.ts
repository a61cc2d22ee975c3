import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ANTHROPIC_SECRET,
  OPENAI_SECRET,
  displayUrl,
  isLocalUrl,
  keyEnvironment,
  keyTarget,
  launchKeys,
  launchKeysDiffer,
  llmKeySettings,
  openaiKeyEnv,
} from '../src/keys';
import { launchOptions } from '../src/serverCommand';
import { Inspected, explicitServerSettings } from '../src/settings';

const BASE_ENV = { PATH: '/usr/bin', HOME: '/home/ada' };

/**
 * What server.ts does: the user's settings (from `inspect('drainLs')`), the key Set API Key
 * stores for the current backend, then the environment the server process is started with.
 */
function startWith(
  inspected: Inspected,
  secrets: Record<string, string | undefined>,
  env: Record<string, string | undefined> = BASE_ENV,
): Record<string, string | undefined> {
  const llm = llmKeySettings(explicitServerSettings(inspected));
  const keys = launchKeys(secrets, llm);
  return launchOptions({
    env,
    platform: 'linux',
    workspaceFolders: ['/work/project'],
    directories: ['/tmp'],
    apiKey: keys.anthropic,
    openaiApiKey: keys.openai,
    openaiKeyEnv: keys.openaiKeyEnv,
  }).env;
}

/** Set API Key with these user settings: the secret it stores `key` under. */
function setKey(globalValue: Record<string, unknown>, key: string, secrets: Record<string, string | undefined> = {}) {
  const target = keyTarget(llmKeySettings(explicitServerSettings({ globalValue })));
  return { ...secrets, [target.secret]: key };
}

test('offline backend: Set API Key stores the Anthropic key, the server gets ANTHROPIC_API_KEY', () => {
  const user = { 'llm.enabled': true };
  const secrets = setKey(user, 'sk-ant-1');
  assert.deepEqual(Object.keys(secrets), [ANTHROPIC_SECRET]);
  const env = startWith({ globalValue: user }, secrets);
  assert.deepEqual(env, { ...BASE_ENV, PYTHONSAFEPATH: '1', ANTHROPIC_API_KEY: 'sk-ant-1' });
});

test('anthropic backend: exactly the environment of the first release', () => {
  const user = { llm: { enabled: true, backend: 'anthropic' } };
  const secrets = setKey(user, 'sk-ant-2');
  assert.equal(secrets[ANTHROPIC_SECRET], 'sk-ant-2');
  const env = startWith({ globalValue: user }, secrets);
  assert.equal(env.OPENAI_API_KEY, undefined);
  assert.deepEqual(env, { ...BASE_ENV, PYTHONSAFEPATH: '1', ANTHROPIC_API_KEY: 'sk-ant-2' });
  // No key stored: nothing added (a key in VS Code's own environment passes through).
  assert.deepEqual(startWith({ globalValue: user }, {}, { ...BASE_ENV, ANTHROPIC_API_KEY: 'from-shell' }), {
    ...BASE_ENV,
    ANTHROPIC_API_KEY: 'from-shell',
    PYTHONSAFEPATH: '1',
  });
});

test('anthropic prompt: unchanged text, placeholder and secret id', () => {
  for (const backend of ['offline', 'anthropic', undefined]) {
    const target = keyTarget(llmKeySettings(backend ? { llm: { backend } } : {}));
    assert.equal(target.backend, 'anthropic');
    assert.equal(target.secret, 'drainLs.anthropicApiKey');
    assert.equal(target.title, 'drain-ls: Anthropic API key');
    assert.equal(
      target.prompt,
      "Kept in VS Code's secret storage and given to the server as ANTHROPIC_API_KEY; never written to settings.",
    );
    assert.equal(target.placeHolder, 'sk-ant-...');
    assert.deepEqual(target.env, { ok: true, name: 'ANTHROPIC_API_KEY' });
  }
});

test('openai backend: its own secret, given as OPENAI_API_KEY when apiKeyEnv is empty', () => {
  const user = { 'llm.enabled': true, 'llm.backend': 'openai', 'llm.baseUrl': 'https://api.openai.com/v1' };
  const secrets = setKey(user, 'sk-openai-3');
  assert.deepEqual(Object.keys(secrets), [OPENAI_SECRET]);
  assert.equal(OPENAI_SECRET, 'drainLs.openaiApiKey');
  const env = startWith({ globalValue: user }, secrets);
  assert.equal(env.ANTHROPIC_API_KEY, undefined);
  assert.deepEqual(env, { ...BASE_ENV, PYTHONSAFEPATH: '1', OPENAI_API_KEY: 'sk-openai-3' });
});

test('openai backend: the key goes in the variable drainLs.llm.apiKeyEnv names, and only there', () => {
  const user = { llm: { backend: 'openai', baseUrl: 'http://localhost:8080/v1', apiKeyEnv: 'LLAMA_API_KEY' } };
  const secrets = setKey(user, 'llama-secret');
  const env = startWith({ globalValue: user }, secrets, { ...BASE_ENV, OPENAI_API_KEY: 'sk-from-shell' });
  assert.equal(env.LLAMA_API_KEY, 'llama-secret');
  // The user's own OPENAI_API_KEY is left as it was, not replaced by the llama key.
  assert.equal(env.OPENAI_API_KEY, 'sk-from-shell');
  assert.equal(env.ANTHROPIC_API_KEY, undefined);
  assert.equal(env.PYTHONSAFEPATH, '1');
});

test('both keys stored: both given, whatever the backend (switching backends needs no restart)', () => {
  const secrets = { [ANTHROPIC_SECRET]: 'sk-ant-4', [OPENAI_SECRET]: 'sk-openai-4' };
  for (const backend of ['offline', 'anthropic', 'openai']) {
    const env = startWith({ globalValue: { llm: { backend, apiKeyEnv: 'MY_KEY' } } }, secrets);
    assert.equal(env.ANTHROPIC_API_KEY, 'sk-ant-4', backend);
    assert.equal(env.MY_KEY, 'sk-openai-4', backend);
    assert.equal(env.OPENAI_API_KEY, undefined, backend);
  }
});

test('a repository cannot choose the variable the key goes in (llm is user-only)', () => {
  const secrets = { [OPENAI_SECRET]: 'sk-openai-5' };
  const env = startWith(
    {
      globalValue: { 'llm.backend': 'openai' },
      workspaceValue: { 'llm.apiKeyEnv': 'EVIL', llm: { baseUrl: 'https://evil.example/v1' } },
      workspaceFolderValue: { 'llm.apiKeyEnv': 'EVIL2' },
    },
    secrets,
  );
  assert.equal(env.OPENAI_API_KEY, 'sk-openai-5');
  assert.equal(env.EVIL, undefined);
  assert.equal(env.EVIL2, undefined);
  const target = keyTarget(
    llmKeySettings(
      explicitServerSettings({ globalValue: { 'llm.backend': 'openai' }, workspaceValue: { 'llm.baseUrl': 'https://evil.example/v1' } }),
    ),
  );
  assert.match(target.prompt, /localhost:11434\/v1/);
  assert.doesNotMatch(target.prompt, /evil/);
  // Nor switch the backend, and with it the key Set API Key asks for.
  const workspaceBackend = keyTarget(
    llmKeySettings(explicitServerSettings({ globalValue: {}, workspaceValue: { 'llm.backend': 'openai' } })),
  );
  assert.equal(workspaceBackend.backend, 'anthropic');
});

test('an apiKeyEnv that is not a variable name, or one the server needs, gets no key', () => {
  for (const bad of ['sk-abc def', '1KEY', 'MY-KEY', 'PATH', 'Path', 'PYTHONSAFEPATH', 'PYTHONPATH', 'HOME', 'ANTHROPIC_API_KEY']) {
    assert.equal(openaiKeyEnv(bad).ok, false, bad);
    const env = startWith({ globalValue: { llm: { backend: 'openai', apiKeyEnv: bad } } }, { [OPENAI_SECRET]: 'sk-x' });
    assert.equal(env.PATH, '/usr/bin', bad);
    assert.equal(env.HOME, '/home/ada', bad);
    assert.equal(env.PYTHONSAFEPATH, '1', bad);
    assert.ok(!Object.values(env).includes('sk-x'), bad);
    const target = keyTarget({ enabled: true, backend: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: bad });
    assert.equal(target.env.ok, false);
    // The message names the setting, never a key.
    assert.match(!target.env.ok ? target.env.message : '', /drainLs\.llm\.apiKeyEnv/);
  }
  assert.deepEqual(openaiKeyEnv('  '), { ok: true, name: 'OPENAI_API_KEY' });
  assert.deepEqual(openaiKeyEnv(' _My_Key2 '), { ok: true, name: '_My_Key2' });
});

test('openai prompt names the base URL (without credentials) and the variable', () => {
  const remote = keyTarget({
    enabled: true,
    backend: 'openai',
    baseUrl: 'https://user:hunter2@llm.example.com:8443/v1/?token=abc#x',
    apiKeyEnv: 'VLLM_KEY',
  });
  assert.equal(remote.backend, 'openai');
  assert.equal(remote.secret, OPENAI_SECRET);
  assert.equal(remote.title, 'drain-ls: API key for https://llm.example.com:8443/v1');
  assert.match(remote.prompt, /https:\/\/llm\.example\.com:8443\/v1/);
  assert.match(remote.prompt, /as VLLM_KEY; never written to settings/);
  assert.doesNotMatch(remote.prompt + remote.title, /hunter2|token=abc|user/);
  assert.equal(remote.unusedBecause, undefined);

  const openai = keyTarget(llmKeySettings({ llm: { backend: 'openai', baseUrl: 'https://api.openai.com/v1' } }));
  assert.match(openai.prompt, /as OPENAI_API_KEY;/);
  assert.equal(openai.placeHolder, 'sk-...');
});

test('a local endpoint with no apiKeyEnv: the key would not be sent, and Set API Key says so', () => {
  // The default base URL is Ollama's, on this machine.
  const target = keyTarget(llmKeySettings({ llm: { backend: 'openai' } }));
  assert.match(target.title, /http:\/\/localhost:11434\/v1/);
  assert.match(target.unusedBecause ?? '', /drainLs\.llm\.apiKeyEnv/);
  const named = keyTarget(llmKeySettings({ llm: { backend: 'openai', apiKeyEnv: 'LLAMA_API_KEY' } }));
  assert.equal(named.unusedBecause, undefined);
});

test('llmKeySettings: the server defaults when unset', () => {
  assert.deepEqual(llmKeySettings({}), {
    enabled: false,
    backend: 'offline',
    baseUrl: 'http://localhost:11434/v1',
    apiKeyEnv: '',
  });
  assert.deepEqual(llmKeySettings({ llm: { enabled: true, backend: 'openai', baseUrl: ' ', apiKeyEnv: 3 } }), {
    enabled: true,
    backend: 'openai',
    baseUrl: 'http://localhost:11434/v1',
    apiKeyEnv: '',
  });
});

test('isLocalUrl: as the server decides it', () => {
  for (const url of [
    'http://localhost:11434/v1',
    'http://LOCALHOST:8080/v1',
    'http://127.0.0.1:8080/v1',
    'http://127.1.2.3/v1',
    'http://[::1]:8000/v1',
    'http://[::ffff:127.0.0.1]:8000/v1',
    'http://ollama.localhost/v1',
  ]) {
    assert.equal(isLocalUrl(url), true, url);
  }
  for (const url of ['https://api.openai.com/v1', 'http://192.168.1.5:11434/v1', 'http://localhost.example.com/v1', 'not a url', '']) {
    assert.equal(isLocalUrl(url), false, url);
  }
});

test('displayUrl drops credentials, query and fragment', () => {
  assert.equal(displayUrl('http://localhost:11434/v1/'), 'http://localhost:11434/v1');
  assert.equal(displayUrl('https://a:b@host/v1?k=1#f'), 'https://host/v1');
  assert.equal(displayUrl('a:b@host/v1'), 'host/v1');
});

test('a restart is needed when a key, or the variable of a stored openai key, changes', () => {
  const llm = (apiKeyEnv: string) => ({ enabled: true, backend: 'openai', baseUrl: 'http://x/v1', apiKeyEnv });
  const started = launchKeys({ [ANTHROPIC_SECRET]: 'a', [OPENAI_SECRET]: 'o' }, llm(''));
  assert.equal(launchKeysDiffer(started, launchKeys({ [ANTHROPIC_SECRET]: 'a', [OPENAI_SECRET]: 'o' }, llm(''))), false);
  assert.equal(launchKeysDiffer(started, launchKeys({ [ANTHROPIC_SECRET]: 'b', [OPENAI_SECRET]: 'o' }, llm(''))), true);
  assert.equal(launchKeysDiffer(started, launchKeys({ [ANTHROPIC_SECRET]: 'a' }, llm(''))), true);
  assert.equal(launchKeysDiffer(started, launchKeys({ [ANTHROPIC_SECRET]: 'a', [OPENAI_SECRET]: 'o' }, llm('K'))), true);
  // The variable's name alone matters only with an openai key stored.
  const noOpenai = launchKeys({ [ANTHROPIC_SECRET]: 'a' }, llm(''));
  assert.equal(launchKeysDiffer(noOpenai, launchKeys({ [ANTHROPIC_SECRET]: 'a' }, llm('K'))), false);
  // Not started yet, nothing stored: no restart.
  assert.equal(launchKeysDiffer(undefined, launchKeys({}, llm(''))), false);
  assert.deepEqual(keyEnvironment({}), {});
});
