// Which program runs the server. Pure: no `vscode` import, unit-tested in Node.
//
// Order: `drainLs.path` (the drain-ls executable), then `drainLs.interpreter` (a Python that
// has drain-ls installed, run as `python -P -m drain_ls`), then `drain-ls` on PATH. The language
// client appends `--stdio` (TransportKind.stdio), which the server accepts.
//
// A workspace must not be able to put code on the server's import path: `python -m` puts the
// working directory first on sys.path, so a repository with a `drain_ls/__main__.py` would run
// instead of drain-ls. `-P` (Python 3.11+, which drain-ls requires) and PYTHONSAFEPATH=1 (also
// for anything the server or a wrapper script starts) leave it off, and the server runs in a
// directory outside the workspace (`launchOptions`): it gets the workspace from the root URI
// and the workspace folders, never from its working directory.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';

import { keyEnvironment } from './keys';

export interface ServerSpec {
  command: string;
  args: string[];
  /** Which setting chose it, for messages and the output channel. */
  source: 'drainLs.path' | 'drainLs.interpreter' | 'PATH';
}

export type Resolution = { ok: true; spec: ServerSpec } | { ok: false; message: string };

export interface ResolveContext {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  home: string;
  /** The first workspace folder's path, for relative paths and `${workspaceFolder}`. */
  workspaceFolder?: string;
  /** Is there an executable file at this absolute path? */
  isExecutable(path: string): boolean;
}

/** Is there an executable file at `path`? (`ResolveContext.isExecutable` for the real file system.) */
export function isExecutable(path: string): boolean {
  try {
    if (!fs.statSync(path).isFile()) {
      return false;
    }
    if (process.platform !== 'win32') {
      fs.accessSync(path, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

const INSTALL_HINT =
  'Install drain-ls into a Python 3.11+ environment (`pip install .` in a clone of drain-ls) and set ' +
  '`drainLs.path` to the `drain-ls` executable, or `drainLs.interpreter` to a Python that has it.';

/** `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}` in a setting, expanded. */
export function expandVariables(value: string, ctx: ResolveContext): string {
  let out = value.trim();
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = ctx.home + out.slice(1);
  }
  return out.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === 'userHome') {
      return ctx.home;
    }
    if (name === 'workspaceFolder' && ctx.workspaceFolder !== undefined) {
      return ctx.workspaceFolder;
    }
    if (name.startsWith('env:')) {
      return ctx.env[name.slice(4)] ?? '';
    }
    return whole;
  });
}

function pathApi(platform: NodeJS.Platform): typeof nodePath.posix {
  return platform === 'win32' ? nodePath.win32 : nodePath.posix;
}

/** Where `name` is found on PATH (with PATHEXT on Windows), or undefined. */
export function findOnPath(name: string, ctx: ResolveContext): string | undefined {
  const path = pathApi(ctx.platform);
  const pathVar = ctx.env.PATH ?? ctx.env.Path ?? '';
  const extensions =
    ctx.platform === 'win32'
      ? ['', ...(ctx.env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean)]
      : [''];
  for (const dir of pathVar.split(ctx.platform === 'win32' ? ';' : ':')) {
    if (!dir) {
      continue;
    }
    for (const ext of extensions) {
      const candidate = path.join(dir, name + ext);
      if (ctx.isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** A setting's program: absolute, relative to the workspace folder, or a bare name on PATH. */
function locate(
  setting: string,
  raw: string,
  ctx: ResolveContext,
): { ok: true; path: string } | { ok: false; message: string } {
  const path = pathApi(ctx.platform);
  const value = expandVariables(raw, ctx);
  const bare = !value.includes('/') && !(ctx.platform === 'win32' && value.includes('\\'));
  if (bare) {
    const found = findOnPath(value, ctx);
    return found
      ? { ok: true, path: found }
      : { ok: false, message: `\`${setting}\` is "${raw}", which is not on PATH. ${INSTALL_HINT}` };
  }
  let absolute = value;
  if (!path.isAbsolute(value)) {
    if (ctx.workspaceFolder === undefined) {
      return {
        ok: false,
        message: `\`${setting}\` is the relative path "${raw}", and no folder is open to resolve it against.`,
      };
    }
    absolute = path.resolve(ctx.workspaceFolder, value);
  }
  if (!ctx.isExecutable(absolute)) {
    return {
      ok: false,
      message: `\`${setting}\` is "${raw}", but ${absolute} is not an executable file. ${INSTALL_HINT}`,
    };
  }
  return { ok: true, path: absolute };
}

/** The command that starts the server, or why there is none. */
export function resolveServerCommand(
  settings: { path?: string; interpreter?: string },
  ctx: ResolveContext,
): Resolution {
  const path = (settings.path ?? '').trim();
  if (path) {
    const found = locate('drainLs.path', path, ctx);
    return found.ok
      ? { ok: true, spec: { command: found.path, args: [], source: 'drainLs.path' } }
      : found;
  }
  const interpreter = (settings.interpreter ?? '').trim();
  if (interpreter) {
    const found = locate('drainLs.interpreter', interpreter, ctx);
    return found.ok
      ? { ok: true, spec: { command: found.path, args: ['-P', '-m', 'drain_ls'], source: 'drainLs.interpreter' } }
      : found;
  }
  const onPath = findOnPath('drain-ls', ctx);
  if (onPath) {
    return { ok: true, spec: { command: onPath, args: [], source: 'PATH' } };
  }
  return { ok: false, message: `drain-ls was not found on PATH. ${INSTALL_HINT}` };
}

export interface Launch {
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Is `child` the directory `parent` or inside it? (Case-insensitive on Windows and macOS.) */
function isInside(parent: string, child: string, platform: NodeJS.Platform): boolean {
  const path = pathApi(platform);
  const fold = (s: string) => (platform === 'win32' || platform === 'darwin' ? s.toLowerCase() : s);
  const rel = path.relative(fold(path.resolve(parent)), fold(path.resolve(child)));
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/**
 * The server process's environment and working directory. The environment is `env` with
 * PYTHONSAFEPATH=1 and the stored keys, if any (`keyEnvironment`: the Anthropic key as
 * ANTHROPIC_API_KEY, the openai backend's as `openaiKeyEnv` or OPENAI_API_KEY); the working
 * directory is the first of `directories` (the extension's storage, the home and temp
 * directories, in that order) that is not inside a workspace folder, or the last one if all are.
 */
export function launchOptions(ctx: {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  workspaceFolders: readonly string[];
  directories: readonly string[];
  /** The Anthropic API key. */
  apiKey?: string;
  /** The openai backend's key, and `drainLs.llm.apiKeyEnv` (the variable it goes in). */
  openaiApiKey?: string;
  openaiKeyEnv?: string;
}): Launch {
  const env: Record<string, string | undefined> = {
    ...ctx.env,
    PYTHONSAFEPATH: '1',
    ...keyEnvironment({ anthropic: ctx.apiKey, openai: ctx.openaiApiKey, openaiKeyEnv: ctx.openaiKeyEnv }),
  };
  const outside = ctx.directories.find(
    (dir) => !ctx.workspaceFolders.some((folder) => isInside(folder, dir, ctx.platform)),
  );
  const cwd = outside ?? ctx.directories[ctx.directories.length - 1];
  return { env, cwd };
}
