import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ResolveContext, expandVariables, findOnPath, launchOptions, resolveServerCommand } from '../src/serverCommand';

function context(executables: string[], extra: Partial<ResolveContext> = {}): ResolveContext {
  const set = new Set(executables);
  return {
    env: { PATH: '/usr/local/bin:/usr/bin', VENV: '/work/venv' },
    platform: 'linux',
    home: '/home/ada',
    workspaceFolder: '/work/project',
    isExecutable: (p) => set.has(p),
    ...extra,
  };
}

test('drainLs.path wins over drainLs.interpreter and PATH', () => {
  const ctx = context(['/opt/drain-ls', '/usr/bin/python3', '/usr/bin/drain-ls']);
  const r = resolveServerCommand({ path: '/opt/drain-ls', interpreter: '/usr/bin/python3' }, ctx);
  assert.deepEqual(r, { ok: true, spec: { command: '/opt/drain-ls', args: [], source: 'drainLs.path' } });
});

test('drainLs.interpreter runs python -P -m drain_ls (no working directory on sys.path)', () => {
  const ctx = context(['/usr/bin/python3', '/usr/bin/drain-ls']);
  const r = resolveServerCommand({ path: '', interpreter: '/usr/bin/python3' }, ctx);
  assert.deepEqual(r, {
    ok: true,
    spec: { command: '/usr/bin/python3', args: ['-P', '-m', 'drain_ls'], source: 'drainLs.interpreter' },
  });
  // -P comes before -m: options after the module name would go to drain_ls.
  assert.ok(r.ok && r.spec.args.indexOf('-P') < r.spec.args.indexOf('-m'));
});

test('a bare interpreter name is looked up on PATH', () => {
  const r = resolveServerCommand({ interpreter: 'python3' }, context(['/usr/bin/python3']));
  assert.ok(r.ok && r.spec.command === '/usr/bin/python3');
});

test('with no setting, drain-ls on PATH; the first PATH entry wins', () => {
  const r = resolveServerCommand({}, context(['/usr/bin/drain-ls', '/usr/local/bin/drain-ls']));
  assert.deepEqual(r, { ok: true, spec: { command: '/usr/local/bin/drain-ls', args: [], source: 'PATH' } });
});

test('nothing found: a message that says what to set', () => {
  const r = resolveServerCommand({ path: '  ', interpreter: '' }, context([]));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /not found on PATH.*drainLs\.path.*drainLs\.interpreter/);
});

test('a path that is not executable is named in the error', () => {
  const r = resolveServerCommand({ path: '/nope/drain-ls' }, context([]));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /drainLs\.path.*\/nope\/drain-ls.*not an executable/);
});

test('relative paths resolve against the workspace folder; variables expand', () => {
  const ctx = context(['/work/project/.venv/bin/drain-ls', '/home/ada/.local/bin/drain-ls', '/work/venv/bin/drain-ls']);
  const rel = resolveServerCommand({ path: '.venv/bin/drain-ls' }, ctx);
  assert.ok(rel.ok && rel.spec.command === '/work/project/.venv/bin/drain-ls');
  const wf = resolveServerCommand({ path: '${workspaceFolder}/.venv/bin/drain-ls' }, ctx);
  assert.ok(wf.ok && wf.spec.command === '/work/project/.venv/bin/drain-ls');
  const home = resolveServerCommand({ path: '~/.local/bin/drain-ls' }, ctx);
  assert.ok(home.ok && home.spec.command === '/home/ada/.local/bin/drain-ls');
  const env = resolveServerCommand({ path: '${env:VENV}/bin/drain-ls' }, ctx);
  assert.ok(env.ok && env.spec.command === '/work/venv/bin/drain-ls');
  assert.equal(expandVariables('${userHome}/x ${unknown}', ctx), '/home/ada/x ${unknown}');
});

test('a relative path with no folder open is an error', () => {
  const r = resolveServerCommand({ path: 'bin/drain-ls' }, context([], { workspaceFolder: undefined }));
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /no folder is open/);
});

test('Windows: PATHEXT and backslashes', () => {
  const ctx = context(['C:\\Py\\Scripts\\drain-ls.EXE'], {
    platform: 'win32',
    env: { PATH: 'C:\\Windows;C:\\Py\\Scripts', PATHEXT: '.COM;.EXE' },
    workspaceFolder: 'C:\\work',
  });
  assert.equal(findOnPath('drain-ls', ctx), 'C:\\Py\\Scripts\\drain-ls.EXE');
  const r = resolveServerCommand({}, ctx);
  assert.ok(r.ok && r.spec.command === 'C:\\Py\\Scripts\\drain-ls.EXE');
});

test('launch: PYTHONSAFEPATH=1, the API key, and the working directory is not the workspace', () => {
  const launch = launchOptions({
    env: { PATH: '/usr/bin', PYTHONSAFEPATH: '' },
    platform: 'linux',
    workspaceFolders: ['/work/project'],
    directories: ['/home/ada/.config/Code/User/globalStorage/drain-ls.drain-ls', '/home/ada', '/tmp'],
    apiKey: 'sk-test',
  });
  assert.equal(launch.env.PYTHONSAFEPATH, '1');
  assert.equal(launch.env.PATH, '/usr/bin');
  assert.equal(launch.env.ANTHROPIC_API_KEY, 'sk-test');
  assert.equal(launch.cwd, '/home/ada/.config/Code/User/globalStorage/drain-ls.drain-ls');
  assert.notEqual(launch.cwd, '/work/project');
});

test('launch: no API key, no ANTHROPIC_API_KEY added; the caller\'s env is not changed', () => {
  const env: Record<string, string | undefined> = { PATH: '/usr/bin' };
  const launch = launchOptions({ env, platform: 'linux', workspaceFolders: [], directories: ['/tmp'] });
  assert.equal(launch.env.ANTHROPIC_API_KEY, undefined);
  assert.equal(launch.env.PYTHONSAFEPATH, '1');
  assert.equal(env.PYTHONSAFEPATH, undefined);
  assert.equal(launch.cwd, '/tmp');
});

test('launch: a directory inside a workspace folder is skipped', () => {
  // The home directory opened as the workspace: its storage directory and itself are inside.
  const launch = launchOptions({
    env: {},
    platform: 'linux',
    workspaceFolders: ['/srv/other', '/home/ada'],
    directories: ['/home/ada/.config/Code/User/globalStorage/x', '/home/ada', '/tmp'],
  });
  assert.equal(launch.cwd, '/tmp');
  // A sibling whose name starts with the folder's is not inside it.
  const sibling = launchOptions({
    env: {},
    platform: 'linux',
    workspaceFolders: ['/home/ada'],
    directories: ['/home/ada2', '/tmp'],
  });
  assert.equal(sibling.cwd, '/home/ada2');
});

test('launch: Windows paths compare case-insensitively', () => {
  const launch = launchOptions({
    env: {},
    platform: 'win32',
    workspaceFolders: ['C:\\Users\\Ada'],
    directories: ['c:\\users\\ada\\AppData\\Roaming\\Code\\User\\globalStorage\\x', 'C:\\Temp'],
  });
  assert.equal(launch.cwd, 'C:\\Temp');
});

test('launch: the openai backend\'s key in OPENAI_API_KEY, or the variable apiKeyEnv names', () => {
  const base = { env: { PATH: '/usr/bin' }, platform: 'linux' as const, workspaceFolders: [], directories: ['/tmp'] };
  const plain = launchOptions({ ...base, openaiApiKey: 'sk-o' });
  assert.equal(plain.env.OPENAI_API_KEY, 'sk-o');
  assert.equal(plain.env.ANTHROPIC_API_KEY, undefined);
  const named = launchOptions({ ...base, apiKey: 'sk-a', openaiApiKey: 'sk-o', openaiKeyEnv: 'LLAMA_API_KEY' });
  assert.deepEqual(named.env, { PATH: '/usr/bin', PYTHONSAFEPATH: '1', ANTHROPIC_API_KEY: 'sk-a', LLAMA_API_KEY: 'sk-o' });
  // A name the server needs for itself is never overwritten with a key.
  const reserved = launchOptions({ ...base, openaiApiKey: 'sk-o', openaiKeyEnv: 'PYTHONSAFEPATH' });
  assert.equal(reserved.env.PYTHONSAFEPATH, '1');
  assert.ok(!Object.values(reserved.env).includes('sk-o'));
});
