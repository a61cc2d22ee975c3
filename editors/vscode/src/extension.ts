// drain-ls for VS Code: starts the server, keeps its settings in sync, shows the drains' state
// in the status bar, and gives the drain commands, the cost report and the request preview.
//
// The extension's own command ids are `drainLs.*`. vscode-languageclient registers the server's
// `drain.*` commands (executeCommandProvider) as VS Code commands by itself: code actions such as
// "Dismiss this suggestion" run through those, and reusing the ids would make activation throw
// "command already exists".

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
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

import { renderPreview } from './preview';
import { renderErrorPage, renderReport } from './report';
import { launchOptions, Resolution, resolveServerCommand } from './serverCommand';
import { explicitServerSettings, JsonObject, settingsNeedRestart } from './settings';
import { DrainStatus, isWarning, normalizeStatus, statusText, statusTooltip, Today } from './status';

const SECTION = 'drainLs';
const SECRET_KEY = 'drainLs.anthropicApiKey';
const PREVIEW_SCHEME = 'drain-ls-preview';

function isExecutable(path: string): boolean {
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

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

function utcToday(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The status bar item, fed by `drain/status`; clicking it opens the report. */
class StatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private status: DrainStatus = normalizeStatus({ state: 'starting' });
  private today: Today | undefined;
  private stoppedMessage = '';

  constructor() {
    this.item = vscode.window.createStatusBarItem('drainLs.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'drain-ls';
    this.item.command = 'drainLs.showReport';
    this.render();
    this.item.show();
  }

  get current(): DrainStatus {
    return this.status;
  }

  update(raw: unknown): void {
    this.status = normalizeStatus(raw);
    this.render();
  }

  setToday(today: Today | undefined): void {
    this.today = today;
    this.render();
  }

  starting(): void {
    this.status = normalizeStatus({ state: 'starting', reason: 'starting the server' });
    this.render();
  }

  stopped(message: string): void {
    this.stoppedMessage = message;
    this.status = normalizeStatus({ state: 'stopped', reason: message });
    this.render();
  }

  private render(): void {
    const s = this.status;
    this.item.text = statusText(s, this.today);
    const tooltip = new vscode.MarkdownString(statusTooltip(s, this.today));
    if (s.state === 'stopped') {
      tooltip.appendMarkdown('\n\n[Restart the server](command:drainLs.restart) · [Show output](command:drainLs.showOutput)');
      tooltip.isTrusted = { enabledCommands: ['drainLs.restart', 'drainLs.showOutput'] };
    }
    this.item.tooltip = tooltip;
    this.item.accessibilityInformation = {
      label: `drain-ls drains ${s.state}${s.reason ? `: ${s.reason}` : ''}${s.state === 'stopped' ? ` ${this.stoppedMessage}` : ''}`,
    };
    this.item.backgroundColor = isWarning(s) ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** The cost report webview (one panel, reused). */
class ReportPanel {
  private panel: vscode.WebviewPanel | undefined;
  private days = 7;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly fetch: (days: number) => Promise<{ ok: true; data: unknown } | { ok: false; message: string }>) {}

  get visible(): boolean {
    return this.panel?.visible ?? false;
  }

  async show(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
    } else {
      this.panel = vscode.window.createWebviewPanel('drainLs.report', 'drain-ls Report', vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [],
        retainContextWhenHidden: false,
      });
      this.panel.onDidDispose(() => {
        this.panel = undefined;
      });
      this.panel.webview.onDidReceiveMessage(async (message: unknown) => {
        const m = (typeof message === 'object' && message !== null ? message : {}) as { type?: unknown; days?: unknown };
        if (m.type === 'days' && typeof m.days === 'number' && m.days > 0) {
          this.days = m.days;
        }
        await this.refresh();
      });
      this.panel.onDidChangeViewState(() => {
        if (this.panel?.visible) {
          void this.refresh();
        }
      });
    }
    await this.refresh();
  }

  /** Refresh soon (coalesces bursts of status changes). */
  refreshSoon(): void {
    if (!this.panel || !this.panel.visible) {
      return;
    }
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 1000);
  }

  async refresh(): Promise<void> {
    const panel = this.panel;
    if (!panel) {
      return;
    }
    const nonce = crypto.randomBytes(16).toString('base64');
    const options = { nonce, days: this.days, today: utcToday() };
    const result = await this.fetch(this.days);
    if (this.panel !== panel) {
      return;
    }
    panel.webview.html = result.ok ? renderReport(result.data, options) : renderErrorPage(result.message, options);
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.panel?.dispose();
  }
}

/** Read-only documents for Preview Request. */
class PreviewDocuments implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  set(uri: vscode.Uri, text: string): void {
    this.contents.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

class DrainLsExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private sentAtStart: JsonObject = {};
  private startedWithKey: string | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private readonly output = vscode.window.createOutputChannel('drain-ls');
  private readonly statusItem = new StatusItem();
  private readonly report = new ReportPanel((days) => this.fetchReport(days));
  private readonly previews = new PreviewDocuments();
  private todayTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastConsumed = -1;

  constructor(private readonly context: vscode.ExtensionContext) {}

  activate(): void {
    const c = this.context;
    const command = (id: string, fn: (...args: unknown[]) => unknown): void => {
      c.subscriptions.push(vscode.commands.registerCommand(id, fn));
    };
    command('drainLs.restart', () => this.restart());
    command('drainLs.showOutput', () => this.output.show(true));
    command('drainLs.runNow', () => this.drainCommand('drain.runNow', 'drains started'));
    command('drainLs.pause', () => this.drainCommand('drain.pause', 'drains paused'));
    command('drainLs.resume', () => this.drainCommand('drain.resume', 'drains resumed'));
    command('drainLs.cancelAll', () => this.drainCommand('drain.cancelAll', 'drains cancelled'));
    command('drainLs.showReport', () => this.report.show());
    command('drainLs.preview', (uri?: unknown) => this.preview(uri instanceof vscode.Uri ? uri : undefined));
    command('drainLs.setApiKey', () => this.setApiKey());
    command('drainLs.clearApiKey', () => this.clearApiKey());
    c.subscriptions.push(
      this,
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this.previews),
      vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)),
      // Another window (or this one) changed the key: restart once with it.
      c.secrets.onDidChange((e) => {
        if (e.key === SECRET_KEY) {
          void this.restartIfKeyChanged();
        }
      }),
    );
    void this.enqueue(() => this.start());
  }

  // -- lifecycle -------------------------------------------------------------------------------

  private enqueue(operation: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.then(operation, operation).catch((error) => {
      this.output.appendLine(`[drain-ls] ${errorMessage(error)}`);
    });
    return this.lifecycle;
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stop();
      await this.start();
    });
  }

  /** Restart unless the server already runs with the stored key (one restart per change). */
  restartIfKeyChanged(): Promise<void> {
    return this.enqueue(async () => {
      if ((await this.context.secrets.get(SECRET_KEY)) !== this.startedWithKey) {
        await this.stop();
        await this.start();
      }
    });
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

  private async start(): Promise<void> {
    this.statusItem.starting();
    const key = await this.context.secrets.get(SECRET_KEY);
    this.startedWithKey = key;
    const resolution = this.resolve();
    if (!resolution.ok) {
      // In a remote window (Remote-SSH, WSL, code-server), drainLs.path and drainLs.interpreter
      // are machine settings: values in the local user settings do not apply there.
      const remote = vscode.env.remoteName
        ? ` This is a remote window (${vscode.env.remoteName}): set it in the Remote settings ("Preferences: Open Remote Settings").`
        : '';
      const message = resolution.message + remote;
      this.output.appendLine(`[drain-ls] ${message}`);
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
      outputChannel: this.output,
      traceOutputChannel: this.output,
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
    this.output.appendLine(
      `[drain-ls] starting ${spec.command} ${[...spec.args, '--stdio'].join(' ')} (from ${spec.source}) in ${launch.cwd}` +
        (key ? ' with the API key from the secret storage' : ''),
    );
    try {
      await client.start();
    } catch (error) {
      const message = `could not start ${spec.command}: ${errorMessage(error)}`;
      this.output.appendLine(`[drain-ls] ${message}`);
      this.statusItem.stopped(message);
      void vscode.window.showErrorMessage(`drain-ls: ${message}`, 'Show Output', 'Open Settings').then((choice) => {
        if (choice === 'Show Output') {
          this.output.show(true);
        } else if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'drainLs.path');
        }
      });
      return;
    }
    await this.refreshStatus();
  }

  private async stop(): Promise<void> {
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
      this.output.appendLine(`[drain-ls] stopping the server: ${errorMessage(error)}`);
    }
    try {
      await client.dispose();
    } catch {
      // already stopped
    }
  }

  private configurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(SECTION)) {
      return;
    }
    if (e.affectsConfiguration(`${SECTION}.path`) || e.affectsConfiguration(`${SECTION}.interpreter`)) {
      this.output.appendLine('[drain-ls] the server setting changed: restarting');
      void this.restart();
      return;
    }
    if (!this.client) {
      return;
    }
    if (settingsNeedRestart(this.sentAtStart, this.serverSettings())) {
      // A setting given at start was removed: only a new server forgets it.
      this.output.appendLine('[drain-ls] a setting given at start was removed: restarting');
      void this.restart();
      return;
    }
    // The language client sends workspace/didChangeConfiguration and the server pulls the
    // section again; the drains' state may change without a notification (turned off).
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => void this.refreshStatus(), 750);
  }

  // -- status ------------------------------------------------------------------------------------

  private onStatus(params: unknown): void {
    this.statusItem.update(params);
    const status = this.statusItem.current;
    if (status.consumedTokens !== this.lastConsumed) {
      this.lastConsumed = status.consumedTokens;
      this.report.refreshSoon();
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
      this.output.appendLine(`[drain-ls] drain.status: ${errorMessage(error)}`);
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

  // -- commands ----------------------------------------------------------------------------------

  private async execute(command: string, args: unknown[] = []): Promise<unknown> {
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
        this.output.show(true);
      }
      return undefined;
    }
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  }

  private async drainCommand(command: string, done: string): Promise<void> {
    let result: unknown;
    try {
      result = await this.execute(command);
    } catch (error) {
      void vscode.window.showErrorMessage(`drain-ls: ${command} failed: ${errorMessage(error)}`);
      return;
    }
    if (!result || typeof result !== 'object') {
      return;
    }
    this.onStatus(result);
    const status = this.statusItem.current;
    if (status.state === 'disabled') {
      const choice = await vscode.window.showInformationMessage(
        'The drains are off. Turn them on with the setting drainLs.llm.enabled.',
        'Open Settings',
      );
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'drainLs.llm');
      }
      return;
    }
    const cancelled = (result as { cancelledNow?: unknown }).cancelledNow;
    const detail = typeof cancelled === 'number' ? ` (${cancelled} stopped)` : '';
    vscode.window.setStatusBarMessage(`drain-ls: ${done}${detail}`, 4000);
  }

  private async fetchReport(days: number): Promise<{ ok: true; data: unknown } | { ok: false; message: string }> {
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

  private async preview(target?: vscode.Uri): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const document = target
      ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString())
      : editor?.document;
    if (!document || document.languageId !== 'python' || document.uri.scheme !== 'file') {
      void vscode.window.showWarningMessage('drain-ls: open a Python file to preview what the drains would send for it.');
      return;
    }
    const client = this.client;
    let result: unknown;
    try {
      const uri = client ? client.code2ProtocolConverter.asUri(document.uri) : document.uri.toString();
      result = await this.execute('drain.preview', [uri]);
    } catch (error) {
      void vscode.window.showErrorMessage(`drain-ls: drain.preview failed: ${errorMessage(error)}`);
      return;
    }
    if (result === undefined) {
      return;
    }
    const label = vscode.workspace.asRelativePath(document.uri);
    const previewUri = vscode.Uri.from({
      scheme: PREVIEW_SCHEME,
      path: `/${nodePath.basename(document.uri.fsPath)} (drain-ls preview).md`,
      query: document.uri.toString(),
    });
    this.previews.set(previewUri, renderPreview(result, label));
    const doc = await vscode.workspace.openTextDocument(previewUri);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: false });
  }

  private async setApiKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'drain-ls: Anthropic API key',
      prompt:
        "Kept in VS Code's secret storage and given to the server as ANTHROPIC_API_KEY; never written to settings.",
      placeHolder: 'sk-ant-...',
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() ? undefined : 'Enter a key, or press Escape to cancel.'),
    });
    if (key === undefined) {
      return;
    }
    await this.context.secrets.store(SECRET_KEY, key.trim());
    await this.restartIfKeyChanged();
    const backend = vscode.workspace.getConfiguration(SECTION).get<string>('llm.backend', 'offline');
    const enabled = vscode.workspace.getConfiguration(SECTION).get<boolean>('llm.enabled', false);
    if (backend !== 'anthropic' || !enabled) {
      const choice = await vscode.window.showInformationMessage(
        'drain-ls: API key stored and the server restarted. The drains use it when drainLs.llm.enabled is on and drainLs.llm.backend is "anthropic".',
        'Open Settings',
      );
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'drainLs.llm');
      }
    } else {
      vscode.window.setStatusBarMessage('drain-ls: API key stored, server restarted', 4000);
    }
  }

  private async clearApiKey(): Promise<void> {
    if (!(await this.context.secrets.get(SECRET_KEY))) {
      void vscode.window.showInformationMessage('drain-ls: no API key is stored.');
      return;
    }
    await this.context.secrets.delete(SECRET_KEY);
    await this.restartIfKeyChanged();
    vscode.window.setStatusBarMessage('drain-ls: API key removed, server restarted', 4000);
  }

  async shutdown(): Promise<void> {
    await this.enqueue(() => this.stop());
  }

  dispose(): void {
    clearTimeout(this.todayTimer);
    clearTimeout(this.statusTimer);
    this.report.dispose();
    this.previews.dispose();
    this.statusItem.dispose();
    this.output.dispose();
  }
}

let extension: DrainLsExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  extension = new DrainLsExtension(context);
  extension.activate();
}

export async function deactivate(): Promise<void> {
  const current = extension;
  extension = undefined;
  await current?.shutdown();
}
