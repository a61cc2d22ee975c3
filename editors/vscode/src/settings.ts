// The `drainLs` settings as the server wants them. Pure: no `vscode` import, unit-tested in Node.
//
// VS Code answers `workspace.getConfiguration('drainLs')` with every contributed default filled
// in. Sending that would override the workspace's `[tool.drain-ls]` table in pyproject.toml
// (the server ranks initializationOptions and workspace/configuration above it), so only what
// the user actually set (user, workspace or folder settings) is sent, nested
// (`{"llm": {"enabled": true}}`), without the keys that only the extension reads.
//
// A workspace is untrusted (the server's trust model): its `.vscode/settings.json` is written by
// whoever wrote the repository. What decides what is sent and spent (`llm`, `budget`, `privacy`,
// `drains`) is therefore taken from the user's settings only; those settings are also
// contributed with `"scope": "application"` (your user settings only: a "machine" scope would also
// drop them from the local user settings in a remote window), so VS Code ignores them in a workspace.

/** The configuration section of every setting (`drainLs.*`). */
export const SECTION = 'drainLs';

/** Top-level keys of the `drainLs` section that the extension reads and the server must not see. */
export const EXTENSION_ONLY_KEYS: readonly string[] = ['path', 'interpreter', 'trace'];

/** Top-level keys only the user's own settings may set: never a workspace's or a folder's. */
export const USER_ONLY_KEYS: readonly string[] = ['llm', 'budget', 'privacy', 'drains'];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What `WorkspaceConfiguration.inspect()` returns (the parts used here). */
export interface Inspected {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of `value` with dotted keys expanded (`{"llm.enabled": true}` becomes
 * `{"llm": {"enabled": true}}`) and nested objects merged.
 */
export function nest(value: unknown): Json {
  if (Array.isArray(value)) {
    return value.map((item) => nest(item));
  }
  if (!isPlainObject(value)) {
    return value === undefined ? null : (value as Json);
  }
  let out: JsonObject = {};
  for (const [key, raw] of Object.entries(value)) {
    if (raw === undefined) {
      continue;
    }
    const parts = key.split('.').filter((part) => part.length > 0);
    if (parts.length === 0) {
      continue;
    }
    let inner: Json = nest(raw);
    for (let i = parts.length - 1; i >= 1; i--) {
      inner = { [parts[i]]: inner };
    }
    out = deepMerge(out, { [parts[0]]: inner });
  }
  return out;
}

/** `override` on top of `base`; nested objects are merged key by key, anything else replaced. */
export function deepMerge(base: JsonObject, override: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const old = merged[key];
    merged[key] = isPlainObject(old) && isPlainObject(value) ? deepMerge(old, value) : value;
  }
  return merged;
}

/** The nested settings object for the server, without the extension-only keys. */
export function toServerSettings(section: unknown): JsonObject {
  const nested = nest(section ?? {});
  if (!isPlainObject(nested)) {
    return {};
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(nested)) {
    if (!EXTENSION_ONLY_KEYS.includes(key)) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * The settings the user set for the `drainLs` section, from `inspect('drainLs')` on the root
 * configuration: user, then workspace, then folder values, each overriding the one before.
 * Defaults are left out on purpose (see the top of this file).
 */
export function explicitServerSettings(inspected: Inspected | undefined): JsonObject {
  if (!inspected) {
    return {};
  }
  let merged: JsonObject = {};
  const layers = [inspected.globalValue, inspected.workspaceValue, inspected.workspaceFolderValue];
  layers.forEach((layer, index) => {
    const nested = nest(layer ?? {});
    if (!isPlainObject(nested)) {
      return;
    }
    const trusted: JsonObject = {};
    for (const [key, value] of Object.entries(nested)) {
      if (index === 0 || !USER_ONLY_KEYS.includes(key)) {
        trusted[key] = value;
      }
    }
    merged = deepMerge(merged, trusted);
  });
  return toServerSettings(merged);
}

/** Dotted paths of every leaf (a value that is not a plain object) of a nested object. */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (!isPlainObject(value) || (prefix !== '' && Object.keys(value).length === 0)) {
    return prefix === '' ? [] : [prefix];
  }
  const out: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    out.push(...leafPaths(inner, prefix === '' ? key : `${prefix}.${key}`));
  }
  return out;
}

/**
 * Does the server need a restart to forget settings? `initializationOptions` stay in force for
 * the server's life, under what the client answers later; a setting sent at start and then
 * removed by the user would stay in force until the server starts again.
 */
export function settingsNeedRestart(sentAtStart: JsonObject, now: JsonObject): boolean {
  const current = new Set(leafPaths(now));
  return leafPaths(sentAtStart).some((path) => !current.has(path));
}

/** The extension's own settings. */
export interface ExtensionSettings {
  path: string;
  interpreter: string;
}
