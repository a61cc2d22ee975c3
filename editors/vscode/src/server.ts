// The drain-ls server behind a vscode-languageclient LanguageClient: starts it with the program
// from serverCommand.ts, the settings from settings.ts and the stored API keys from keys.ts,
// restarts it when they (or a key, or the variable the openai key goes in) change, one operation
// at a time, runs its `drain.*` commands and feeds the status bar item from `drain/status`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  ANTHROPIC_SECRET,
  LaunchKeys,
  launchKeys,
  launchKeysDiffer,
  LlmKeySettings,
  llmKeySettings,
  OPENAI_SECRET,
  openaiKeyEnv,
} from './keys';
import { errorMessage, Output } from './output';
import { ReportResult } from './reportPanel';
import { isExecutable, launchOptions, Resolution, resolveServerCommand } from './serverCommand';
import { explicitServerSettings, JsonObject, SECTION, settingsNeedRestart } from './settings';
import { StatusItem } from './statusItem';

export class DrainLsServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private sentAtStart: JsonObject = {};
  /** The keys (and the openai key's variable) the running server was started with. */
  private startedWith: LaunchKeys | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private todayTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastConsumed = -1;

  /** `onSpend`: the tokens consumed changed (the report refreshes). */
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: Output,
    private readonly statusItem: StatusItem,
    private readonly onSpend: () => void,
  ) {}

  // -- lifecycle -------------------------------------------------------------------------------

  private enqueue(operation: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.then(operation, operation).catch((error) => {
      this.output.log(errorMessage(error));
    });
    return this.lifecycle;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.startClient());
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopClient();
      await this.startClient();
    });
  }

  /**
   * Restart unless the server already runs with the stored keys, each in its variable (one
   * restart per change). `reason`, if given, is logged before a restart.
   */
  restartIfKeyChanged(reason?: string): Promise<void> {
    return this.enqueue(async () => {
      if (launchKeysDiffer(this.startedWith, await this.storedKeys())) {
        if (reason) {
          this.output.log(reason);
        }
        await this.stopClient();
        await this.startClient();
      }
    });
  }

  /** The `llm` settings the API keys depend on: the user's own, as the server gets them. */
  keySettings(): LlmKeySettings {
    return llmKeySettings(this.serverSettings());
  }

  /** The keys in the secret storage, and the variable the openai key goes in. */
  private async storedKeys(): Promise<LaunchKeys> {
    const stored = {
      [ANTHROPIC_SECRET]: await this.context.secrets.get(ANTHROPIC_SECRET),
      [OPENAI_SECRET]: await this.context.secrets.get(OPENAI_SECRET),
    };
    return launchKeys(stored, this.keySettings());
  }

  async shutdown(): Promise<void> {
    await this.enqueue(() => this.stopClient());
  }

  private resolve(): Resolution {
    const config = vscode.workspace.getConfiguration(SECTION);
    return resolveServerCommand(
      { path: config.get<string>('path', ''), interpreter: config.get<string>('interpreter', '') },
      {
        env: process.env,
        platform: process.platform,
        home: os.homedir(),
        workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
        isExecutable,
      },
    );
  }

  /** The settings the user set (not the defaults), nested, for `scope` if given. */
  private serverSettings(scope?: vscode.Uri): JsonObject {
    return explicitServerSettings(vscode.workspace.getConfiguration(undefined, scope).inspect(SECTION));
  }

  /** The extension's own storage directory (created if missing), or undefined if there is none. */
  private storageDirectory(): string | undefined {
    const dir = this.context.globalStorageUri?.fsPath;
    if (!dir) {
      return undefined;
    }
    try {
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    } catch {
      return undefined;
    }
  }

  private async startClient(): Promise<void> {
    this.statusItem.starting();
    const keys = await this.storedKeys();
    this.startedWith = keys;
    const key = keys.anthropic;
    const openaiEnv = openaiKeyEnv(keys.openaiKeyEnv ?? '');
    const resolution = this.resolve();
    if (!resolution.ok) {
      // In a remote window (Remote-SSH, WSL, code-server), drainLs.path and drainLs.interpreter
      // are machine settings: values in the local user settings do not apply there.
      const remote = vscode.env.remoteName
        ? ` This is a remote window (${vscode.env.remoteName}): set it in the Remote settings ("Preferences: Open Remote Settings").`
        : '';
      const message = resolution.message + remote;
      this.output.log(message);
      this.statusItem.stopped(message);
      const settings = vscode.env.remoteName ? 'Open Remote Settings' : 'Open Settings';
      void vscode.window.showErrorMessage(`drain-ls: ${message}`, settings).then((choice) => {
        if (choice === 'Open Remote Settings') {
          void vscode.commands.executeCommand('workbench.action.openRemoteSettings');
        } else if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'drainLs.path');
        }
      });
      return;
    }
    const spec = resolution.spec;
    // Not the workspace folder as the working directory, and PYTHONSAFEPATH=1: a repository must
    // not be able to shadow drain_ls on the server's import path (see serverCommand.ts).
    const launch = launchOptions({
      env: process.env,
      platform: process.platform,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      directories: [this.storageDirectory(), os.homedir(), os.tmpdir()].filter(
        (dir): dir is string => dir !== undefined && dir !== '',
      ),
      apiKey: key,
      openaiApiKey: keys.openai,
      openaiKeyEnv: keys.openaiKeyEnv,
    });
    const serverOptions: ServerOptions = {
      command: spec.command,
      args: spec.args,
      transport: TransportKind.stdio,
      options: { env: launch.env as NodeJS.ProcessEnv, cwd: launch.cwd },
    };
    const initializationOptions = this.serverSettings();
    let created: LanguageClient | undefined;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', language: 'python' }],
      initializationOptions,
      synchronize: { configurationSection: SECTION },
      outputChannel: this.output.channel,
      traceOutputChannel: this.output.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      middleware: {
        workspace: {
          // VS Code would answer with every default and the extension-only keys: answer with
          // what the user set instead, so pyproject.toml's [tool.drain-ls] still counts.
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return params.items.map((item, i) =>
              item.section === SECTION
                ? this.serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
                : answer[i],
            );
          },
          // The client would send the whole section (defaults, path, interpreter, trace):
          // send what the user set, nested, as for workspace/configuration.
          didChangeConfiguration: async () => {
            await created?.sendNotification(DidChangeConfigurationNotification.type, {
              settings: { [SECTION]: this.serverSettings() },
            });
          },
        },
      },
    };
    const client = new LanguageClient(SECTION, 'drain-ls', serverOptions, clientOptions);
    created = client;
    client.onNotification('drain/status', (params: unknown) => this.onStatus(params));
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped && this.client === client) {
        this.statusItem.stopped('The server stopped. See the output channel "drain-ls".');
      }
    });
    this.client = client;
    this.sentAtStart = initializationOptions;
    // The variables' names only, never a key.
    this.output.log(
      `starting ${spec.command} ${[...spec.args, '--stdio'].join(' ')} (from ${spec.source}) in ${launch.cwd}` +
        (key ? ' with the API key from the secret storage' : '') +
        (keys.openai && openaiEnv.ok
          ? `${key ? ' and' : ' with'} the openai backend's key from the secret storage as ${openaiEnv.name}`
          : ''),
    );
    if (keys.openai && !openaiEnv.ok) {
      this.output.log(`the openai backend's stored key is not given to the server: ${openaiEnv.message}`);
    }
    try {
      await client.start();
    } catch (error) {
      const message = `could not start ${spec.command}: ${errorMessage(error)}`;
      this.output.log(message);
      this.statusItem.stopped(message);
      void vscode.window.showErrorMessage(`drain-ls: ${message}`, 'Show Output', 'Open Settings').then((choice) => {
        if (choice === 'Show Output') {
          this.output.show();
        } else if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'drainLs.path');
        }
      });
      return;
    }
    await this.refreshStatus();
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) {
      return;
    }
    try {
      if (client.isRunning()) {
        await client.stop(5000);
      }
    } catch (error) {
      this.output.log(`stopping the server: ${errorMessage(error)}`);
    }
    try {
      await client.dispose();
    } catch {
      // already stopped
    }
  }

  configurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(SECTION)) {
      return;
    }
    if (e.affectsConfiguration(`${SECTION}.path`) || e.affectsConfiguration(`${SECTION}.interpreter`)) {
      this.output.log('the server setting changed: restarting');
      void this.restart();
      return;
    }
    if (!this.client) {
      return;
    }
    if (settingsNeedRestart(this.sentAtStart, this.serverSettings())) {
      // A setting given at start was removed: only a new server forgets it.
      this.output.log('a setting given at start was removed: restarting');
      void this.restart();
      return;
    }
    if (e.affectsConfiguration(`${SECTION}.llm.apiKeyEnv`)) {
      // The openai backend's stored key goes in the variable this names: a new process.
      void this.restartIfKeyChanged('drainLs.llm.apiKeyEnv changed: restarting with the stored key in the new variable');
    }
    // The language client sends workspace/didChangeConfiguration and the server pulls the
    // section again; the drains' state may change without a notification (turned off).
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => void this.refreshStatus(), 750);
  }

  // -- status ------------------------------------------------------------------------------------

  /** A `drain/status` payload (or a drain command's answer): to the status bar item. */
  onStatus(params: unknown): void {
    this.statusItem.update(params);
    const status = this.statusItem.current;
    if (status.consumedTokens !== this.lastConsumed) {
      this.lastConsumed = status.consumedTokens;
      this.onSpend();
      this.refreshTodaySoon();
    }
  }

  private async refreshStatus(): Promise<void> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      return;
    }
    try {
      const result = (await client.sendRequest(ExecuteCommandRequest.type, {
        command: 'drain.status',
        arguments: [],
      })) as { drains?: unknown } | null;
      if (result && typeof result === 'object' && result.drains) {
        this.onStatus(result.drains);
      }
    } catch (error) {
      this.output.log(`drain.status: ${errorMessage(error)}`);
    }
  }

  /** Today's spend and budget left, for the tooltip (`drain.report` for one day). */
  private refreshTodaySoon(): void {
    clearTimeout(this.todayTimer);
    if (this.statusItem.current.state === 'disabled') {
      this.statusItem.setToday(undefined);
      return;
    }
    this.todayTimer = setTimeout(async () => {
      const result = await this.fetchReport(1);
      if (!result.ok) {
        return;
      }
      const data = result.data as {
        total?: { costUsd?: number; totalTokens?: number };
        budgetLeftToday?: { tokens?: number; usd?: number };
      };
      if (!data || typeof data !== 'object' || !data.total) {
        return;
      }
      this.statusItem.setToday({
        costUsd: data.total.costUsd ?? 0,
        totalTokens: data.total.totalTokens ?? 0,
        budgetLeftTokens: data.budgetLeftToday?.tokens,
        budgetLeftUsd: data.budgetLeftToday?.usd,
      });
    }, 1500);
  }

  // -- requests ----------------------------------------------------------------------------------

  /** The server command `command`, or undefined (after offering a restart) if it is not running. */
  async execute(command: string, args: unknown[] = []): Promise<unknown> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      const choice = await vscode.window.showWarningMessage(
        'drain-ls is not running.',
        'Restart Server',
        'Show Output',
      );
      if (choice === 'Restart Server') {
        void this.restart();
      } else if (choice === 'Show Output') {
        this.output.show();
      }
      return undefined;
    }
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  }

  /** `uri` as the server knows it (the client's converter, if a client exists). */
  protocolUri(uri: vscode.Uri): string {
    const client = this.client;
    return client ? client.code2ProtocolConverter.asUri(uri) : uri.toString();
  }

  async fetchReport(days: number): Promise<ReportResult> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      return { ok: false, message: 'drain-ls is not running: run "drain-ls: Restart Server".' };
    }
    try {
      const data = await client.sendRequest(ExecuteCommandRequest.type, { command: 'drain.report', arguments: [days] });
      return { ok: true, data };
    } catch (error) {
      return { ok: false, message: `drain.report failed: ${errorMessage(error)}` };
    }
  }

  dispose(): void {
    clearTimeout(this.todayTimer);
    clearTimeout(this.statusTimer);
  }
}
