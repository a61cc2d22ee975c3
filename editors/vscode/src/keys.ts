// Which API key the server gets, in which environment variable. Pure: no `vscode` import,
// unit-tested in Node.
//
// The extension keeps one key per backend in VS Code's secret storage (never in settings):
//   anthropic  secret `drainLs.anthropicApiKey`, given to the server as ANTHROPIC_API_KEY;
//   openai     secret `drainLs.openaiApiKey`, given as the variable `drainLs.llm.apiKeyEnv`
//              names, else OPENAI_API_KEY (the server reads the key from there).
// Both stored keys are given to every server process, whatever the backend: the backend may
// change without a restart (the server takes new settings as they come), and so did the
// Anthropic key before the openai backend existed. A change of either key, or of the variable's
// name while an openai key is stored, restarts the server.
//
// The settings read here are the user's own (`explicitServerSettings`: `llm` is user-only), as
// the server gets them: a repository cannot choose the variable the key goes to.

import { isPlainObject, JsonObject } from './settings';

/** The secret storage key of the Anthropic API key (unchanged since the first release). */
export const ANTHROPIC_SECRET = 'drainLs.anthropicApiKey';
/** The secret storage key of the openai backend's key. */
export const OPENAI_SECRET = 'drainLs.openaiApiKey';

export const ANTHROPIC_KEY_ENV = 'ANTHROPIC_API_KEY';
export const OPENAI_KEY_ENV = 'OPENAI_API_KEY';
/** `drainLs.llm.baseUrl`'s default (Ollama). */
export const DEFAULT_BASE_URL = 'http://localhost:11434/v1';

/** Variables a key must never replace in the server's environment. */
const RESERVED_ENV = new Set([
  'PATH',
  'HOME',
  'USERPROFILE',
  'SYSTEMROOT',
  'PYTHONSAFEPATH',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'DRAIN_LS_HOME',
  ANTHROPIC_KEY_ENV,
]);

/** The `llm` settings the keys depend on, with the server's defaults. */
export interface LlmKeySettings {
  enabled: boolean;
  backend: string;
  baseUrl: string;
  apiKeyEnv: string;
}

/** `llm.*` from the settings the server is sent (nested, user-only), defaults filled in. */
export function llmKeySettings(serverSettings: JsonObject): LlmKeySettings {
  const llm = isPlainObject(serverSettings.llm) ? serverSettings.llm : {};
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value.trim() : fallback);
  return {
    enabled: llm.enabled === true,
    backend: text(llm.backend, 'offline'),
    baseUrl: text(llm.baseUrl, DEFAULT_BASE_URL) || DEFAULT_BASE_URL,
    apiKeyEnv: text(llm.apiKeyEnv, ''),
  };
}

export type KeyEnv = { ok: true; name: string } | { ok: false; message: string };

/** The variable the openai backend's key goes in: `apiKeyEnv` if set, else OPENAI_API_KEY. */
export function openaiKeyEnv(apiKeyEnv: string): KeyEnv {
  const name = apiKeyEnv.trim();
  if (name === '') {
    return { ok: true, name: OPENAI_KEY_ENV };
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return {
      ok: false,
      message: '`drainLs.llm.apiKeyEnv` must be the name of an environment variable (letters, digits and _), not the key.',
    };
  }
  if (RESERVED_ENV.has(name.toUpperCase())) {
    return { ok: false, message: `\`drainLs.llm.apiKeyEnv\` is ${name}, which the server needs for itself: choose another name.` };
  }
  return { ok: true, name };
}

/** Does `baseUrl` point at this machine? As the server decides it (localhost, 127/8, ::1). */
export function isLocalUrl(baseUrl: string): boolean {
  let host: string;
  try {
    host = new URL(baseUrl.trim()).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return true;
  }
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1') {
    return true;
  }
  // ::ffff:127.x.y.z, which URL writes as ::ffff:7fxx:xxxx.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host);
}

/** `baseUrl` fit for a prompt: no user, password, query or fragment. */
export function displayUrl(baseUrl: string): string {
  const raw = baseUrl.trim();
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    }
  } catch {
    // not a URL
  }
  // Not an http(s) URL: at least never show what looks like credentials.
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1');
}

/** Which key Set API Key / Clear API Key handle, and how to ask for it. */
export interface KeyTarget {
  backend: 'anthropic' | 'openai';
  secret: string;
  /** The variable the server gets it in, or why there is none. */
  env: KeyEnv;
  title: string;
  prompt: string;
  placeHolder: string;
  /** Shown after storing when the key would not be used as things are set (or undefined). */
  unusedBecause?: string;
}

/**
 * The key of the current backend: the openai one when `drainLs.llm.backend` is "openai",
 * else the Anthropic one (also for "offline", as before the openai backend existed).
 */
export function keyTarget(llm: LlmKeySettings): KeyTarget {
  if (llm.backend !== 'openai') {
    return {
      backend: 'anthropic',
      secret: ANTHROPIC_SECRET,
      env: { ok: true, name: ANTHROPIC_KEY_ENV },
      title: 'drain-ls: Anthropic API key',
      prompt:
        "Kept in VS Code's secret storage and given to the server as ANTHROPIC_API_KEY; never written to settings.",
      placeHolder: 'sk-ant-...',
    };
  }
  const env = openaiKeyEnv(llm.apiKeyEnv);
  const url = displayUrl(llm.baseUrl);
  const name = env.ok ? env.name : OPENAI_KEY_ENV;
  const local = isLocalUrl(llm.baseUrl);
  return {
    backend: 'openai',
    secret: OPENAI_SECRET,
    env,
    title: `drain-ls: API key for ${url}`,
    prompt:
      `The key of the OpenAI-compatible server at ${url} (drainLs.llm.baseUrl). Kept in VS Code's ` +
      `secret storage and given to the server as ${name}; never written to settings.`,
    placeHolder: local ? 'the key the server was started with (--api-key)' : 'sk-...',
    unusedBecause:
      local && llm.apiKeyEnv.trim() === ''
        ? `${url} is on this machine, and drain-ls sends a server on this machine no key unless ` +
          'drainLs.llm.apiKeyEnv names the variable to take it from (for example LLAMA_API_KEY).'
        : undefined,
  };
}

/** The stored keys and where they go, as a server process was (or would be) started. */
export interface LaunchKeys {
  anthropic?: string;
  openai?: string;
  /** `drainLs.llm.apiKeyEnv` (empty: OPENAI_API_KEY). */
  openaiKeyEnv?: string;
}

/** What a server process is started with, from the secret storage's keys (by secret id). */
export function launchKeys(stored: Readonly<Record<string, string | undefined>>, llm: LlmKeySettings): LaunchKeys {
  return {
    anthropic: stored[ANTHROPIC_SECRET] || undefined,
    openai: stored[OPENAI_SECRET] || undefined,
    openaiKeyEnv: llm.apiKeyEnv,
  };
}

/** The variables to add to the server's environment for `keys` (never logged). */
export function keyEnvironment(keys: LaunchKeys): Record<string, string> {
  const env: Record<string, string> = {};
  if (keys.anthropic) {
    env[ANTHROPIC_KEY_ENV] = keys.anthropic;
  }
  if (keys.openai) {
    const target = openaiKeyEnv(keys.openaiKeyEnv ?? '');
    if (target.ok) {
      env[target.name] = keys.openai;
    }
  }
  return env;
}

/** Would a server started with `before` run differently with `after`? */
export function launchKeysDiffer(before: LaunchKeys | undefined, after: LaunchKeys): boolean {
  const a = keyEnvironment(before ?? {});
  const b = keyEnvironment(after);
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].some((name) => a[name] !== b[name]);
}
