import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  EXTENSION_ONLY_KEYS,
  USER_ONLY_KEYS,
  deepMerge,
  explicitServerSettings,
  leafPaths,
  nest,
  settingsNeedRestart,
  toServerSettings,
} from '../src/settings';

test('dotted keys become nested objects', () => {
  assert.deepEqual(nest({ 'llm.enabled': true, 'llm.backend': 'offline', 'budget.dailyUsd': 0.5 }), {
    llm: { enabled: true, backend: 'offline' },
    budget: { dailyUsd: 0.5 },
  });
  assert.deepEqual(nest({ llm: { 'model': 'm' }, 'llm.enabled': true }), { llm: { model: 'm', enabled: true } });
  assert.deepEqual(nest({ 'drains.docstrings.enabled': false }), { drains: { docstrings: { enabled: false } } });
});

test('arrays and scalars are kept as they are', () => {
  assert.deepEqual(nest({ select: ['F401', 'D1'], 'privacy.exclude': ['*.gen.py'] }), {
    select: ['F401', 'D1'],
    privacy: { exclude: ['*.gen.py'] },
  });
  assert.equal(nest(3), 3);
  assert.equal(nest(undefined), null);
});

test('the extension-only keys never reach the server', () => {
  assert.deepEqual([...EXTENSION_ONLY_KEYS].sort(), ['interpreter', 'path', 'trace']);
  const out = toServerSettings({
    path: '/usr/bin/drain-ls',
    interpreter: 'python3',
    trace: { server: 'verbose' },
    'trace.server': 'messages',
    llm: { enabled: true },
  });
  assert.deepEqual(out, { llm: { enabled: true } });
});

test('a section as VS Code hands it over (defaults included) is nested and stripped', () => {
  const section = {
    path: '',
    interpreter: '',
    trace: { server: 'off' },
    llm: { enabled: false, backend: 'offline', model: 'claude-haiku-4-5', prices: {} },
    budget: { sessionTokens: 200000 },
    select: [],
  };
  assert.deepEqual(toServerSettings(section), {
    llm: { enabled: false, backend: 'offline', model: 'claude-haiku-4-5', prices: {} },
    budget: { sessionTokens: 200000 },
    select: [],
  });
  assert.deepEqual(toServerSettings(undefined), {});
  assert.deepEqual(toServerSettings('nonsense'), {});
});

test('only what the user set is sent: user < workspace < folder, defaults left out', () => {
  const inspected = {
    defaultValue: { llm: { enabled: false, backend: 'offline' }, path: '' },
    globalValue: { llm: { enabled: true, model: 'claude-haiku-4-5' }, path: '/opt/drain-ls', budget: { dailyUsd: 2 } },
    workspaceValue: { 'idle.delayMs': 500, docstringStyle: 'numpy' },
    workspaceFolderValue: { select: ['F401'], docstringStyle: 'sphinx' },
  };
  assert.deepEqual(explicitServerSettings(inspected), {
    llm: { enabled: true, model: 'claude-haiku-4-5' },
    budget: { dailyUsd: 2 },
    idle: { delayMs: 500 },
    docstringStyle: 'sphinx',
    select: ['F401'],
  });
  assert.deepEqual(explicitServerSettings(undefined), {});
  assert.deepEqual(explicitServerSettings({ defaultValue: { llm: { enabled: false } } }), {});
});

test("a repository's .vscode/settings.json cannot turn on sending, skip consent or raise a cap", () => {
  assert.deepEqual([...USER_ONLY_KEYS].sort(), ['budget', 'drains', 'llm', 'privacy']);
  const inspected = {
    globalValue: { budget: { dailyUsd: 0.5 } },
    workspaceValue: {
      'llm.enabled': true,
      'llm.backend': 'anthropic',
      'privacy.requireConsent': false,
      budget: { dailyUsd: 1000 },
      drains: { custom: [{ name: 'x', prompt: 'Repeat the file.', scope: 'file' }] },
    },
    workspaceFolderValue: { privacy: { redactSecrets: false }, 'llm.prices': { m: { input: -1, output: -1 } } },
  };
  assert.deepEqual(explicitServerSettings(inspected), { budget: { dailyUsd: 0.5 } });
});

test('deepMerge merges objects and replaces arrays', () => {
  assert.deepEqual(deepMerge({ a: { b: 1, c: [1] } }, { a: { c: [2] }, d: null }), { a: { b: 1, c: [2] }, d: null });
});

test('a setting removed after start needs a restart; a changed one does not', () => {
  assert.deepEqual(leafPaths({ llm: { enabled: true, prices: {} }, select: ['F401'] }), ['llm.enabled', 'llm.prices', 'select']);
  const sent = { llm: { enabled: true }, budget: { dailyUsd: 1 } };
  assert.equal(settingsNeedRestart(sent, { llm: { enabled: false }, budget: { dailyUsd: 3 } }), false);
  assert.equal(settingsNeedRestart(sent, { llm: { enabled: true }, budget: { dailyUsd: 1 }, select: ['D'] }), false);
  assert.equal(settingsNeedRestart(sent, { budget: { dailyUsd: 1 } }), true);
  assert.equal(settingsNeedRestart({}, { llm: { enabled: true } }), false);
});

// Every setting the server knows (drain_ls/config.py) is contributed with a description, a type
// and a default; the values sent from those defaults would be valid for the server.
test('package.json contributes every server setting with type, default and description', () => {
  const manifest = JSON.parse(readFileSync(`${__dirname}/../../package.json`, 'utf8'));
  const properties: Record<
    string,
    {
      type?: string;
      default?: unknown;
      markdownDescription?: string;
      description?: string;
      enum?: unknown[];
      enumDescriptions?: string[];
      minimum?: number;
      maximum?: number;
      pattern?: string;
      scope?: string;
      order: number;
    }
  > = manifest.contributes.configuration.properties;
  const expected = [
    'drainLs.path',
    'drainLs.interpreter',
    'drainLs.trace.server',
    'drainLs.llm.enabled',
    'drainLs.llm.backend',
    'drainLs.llm.model',
    'drainLs.llm.baseUrl',
    'drainLs.llm.apiKeyEnv',
    'drainLs.llm.contextWindow',
    'drainLs.llm.local',
    'drainLs.llm.prices',
    'drainLs.llm.batch',
    'drainLs.llm.batchPollSeconds',
    'drainLs.budget.sessionTokens',
    'drainLs.budget.safetyMargin',
    'drainLs.budget.minDrainTokens',
    'drainLs.budget.maxTokensPerDrain',
    'drainLs.budget.dailyTokens',
    'drainLs.budget.dailyUsd',
    'drainLs.budget.source',
    'drainLs.budget.ratelimitReserve',
    'drainLs.budget.pool',
    'drainLs.diagnostics.debounceMs',
    'drainLs.idle.delayMs',
    'drainLs.cancel.policy',
    'drainLs.privacy.requireConsent',
    'drainLs.privacy.exclude',
    'drainLs.privacy.redactSecrets',
    'drainLs.drains.docstrings.enabled',
    'drainLs.drains.summaries.enabled',
    'drainLs.drains.simplify.enabled',
    'drainLs.drains.review.enabled',
    'drainLs.drains.review.maxCommits',
    'drainLs.drains.review.maxBytes',
    'drainLs.drains.review.pollSeconds',
    'drainLs.drains.concurrency',
    'drainLs.drains.custom',
    'drainLs.select',
    'drainLs.ignore',
    'drainLs.exclude',
    'drainLs.docstringStyle',
  ];
  for (const key of expected) {
    const p = properties[key];
    assert.ok(p, `${key} is contributed`);
    assert.ok(p.type, `${key} has a type`);
    assert.ok('default' in p, `${key} has a default`);
    assert.ok((p.markdownDescription ?? p.description ?? '').length > 20, `${key} has a description`);
    if (p.enum) {
      assert.ok(p.enum.includes(p.default), `${key}'s default is one of its enum`);
    }
  }
  assert.deepEqual(properties['drainLs.llm.backend'].enum, ['offline', 'anthropic', 'openai']);
  assert.equal(properties['drainLs.llm.backend'].enumDescriptions?.length, 3);
  // The openai backend's settings, with the server's defaults; user settings only.
  assert.equal(properties['drainLs.llm.baseUrl'].default, 'http://localhost:11434/v1');
  assert.equal(properties['drainLs.llm.apiKeyEnv'].default, '');
  assert.equal(properties['drainLs.llm.contextWindow'].default, 0);
  assert.equal(properties['drainLs.llm.contextWindow'].minimum, 0);
  assert.equal(properties['drainLs.llm.contextWindow'].maximum, 10000000);
  assert.equal(properties['drainLs.llm.local'].default, false);
  for (const key of Object.keys(properties).filter((k) => k.startsWith('drainLs.llm.'))) {
    assert.equal(properties[key].scope, 'application', key);
  }
  const baseUrlPattern = new RegExp(properties['drainLs.llm.baseUrl'].pattern ?? '');
  for (const url of ['http://localhost:11434/v1', 'http://localhost:8080/v1/', 'https://api.openai.com/v1']) {
    assert.match(url, baseUrlPattern);
  }
  assert.doesNotMatch('http://localhost:11434', baseUrlPattern);
  const envPattern = new RegExp(properties['drainLs.llm.apiKeyEnv'].pattern ?? '');
  assert.match('', envPattern);
  assert.match('LLAMA_API_KEY', envPattern);
  assert.doesNotMatch('sk-abc123', envPattern);
  // Unique orders among the llm settings, in the order the Settings editor shows them.
  const llmOrder = Object.keys(properties)
    .filter((k) => k.startsWith('drainLs.llm.'))
    .sort((a, b) => properties[a].order - properties[b].order);
  assert.deepEqual(llmOrder.slice(0, 7), [
    'drainLs.llm.enabled',
    'drainLs.llm.backend',
    'drainLs.llm.model',
    'drainLs.llm.baseUrl',
    'drainLs.llm.apiKeyEnv',
    'drainLs.llm.contextWindow',
    'drainLs.llm.local',
  ]);
  assert.deepEqual(properties['drainLs.cancel.policy'].enum, ['affected', 'all']);
  assert.deepEqual(properties['drainLs.budget.source'].enum, ['fixed', 'claude-code']);
  assert.deepEqual(properties['drainLs.docstringStyle'].enum, ['google', 'numpy', 'sphinx']);
  assert.equal(properties['drainLs.llm.enabled'].default, false);
  assert.equal(properties['drainLs.llm.backend'].default, 'offline');
  // Defaults as VS Code would nest them, minus the extension's own keys.
  const defaults: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(properties)) {
    defaults[key.slice('drainLs.'.length)] = p.default;
  }
  const nested = toServerSettings(defaults) as Record<string, Record<string, unknown>>;
  assert.equal(nested.path, undefined);
  assert.equal(nested.trace, undefined);
  assert.equal(nested.llm.enabled, false);
  assert.deepEqual(nested.drains, {
    docstrings: { enabled: true },
    summaries: { enabled: true },
    simplify: { enabled: true },
    review: { enabled: true, maxCommits: 10, maxBytes: 24000, pollSeconds: 30 },
    concurrency: 2,
    custom: [],
  });
});

test('extension commands use drainLs.* ids, never the server\'s drain.* ids', () => {
  const manifest = JSON.parse(readFileSync(`${__dirname}/../../package.json`, 'utf8'));
  const ids: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
  for (const id of ['drainLs.restart', 'drainLs.runNow', 'drainLs.pause', 'drainLs.resume', 'drainLs.cancelAll', 'drainLs.showReport', 'drainLs.preview', 'drainLs.setApiKey']) {
    assert.ok(ids.includes(id), id);
  }
  assert.ok(ids.every((id) => id.startsWith('drainLs.')));
  assert.deepEqual(manifest.activationEvents, ['onLanguage:python']);
});
