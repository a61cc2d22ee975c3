// drain-ls for VS Code: starts the server, keeps its settings in sync, shows the drains' state
// in the status bar, and gives the drain commands, the cost report and the request preview.
// This file only wires the parts together; each lives in its own module:
//   server.ts          the LanguageClient: start, restart, settings, `drain.*` requests, status
//   output.ts          the output channel "drain-ls"
//   statusItem.ts      the status bar item
//   reportPanel.ts     the cost report webview
//   previewRequest.ts  Preview Request and its read-only documents
//   drainCommands.ts   Run Now, Pause, Resume, Cancel All
//   apiKey.ts          Set API Key, Clear API Key (keys.ts: which key, in which variable)
//
// The extension's own command ids are `drainLs.*`. vscode-languageclient registers the server's
// `drain.*` commands (executeCommandProvider) as VS Code commands by itself: code actions such as
// "Dismiss this suggestion" run through those, and reusing the ids would make activation throw
// "command already exists".

import * as vscode from 'vscode';

import { clearApiKey, setApiKey } from './apiKey';
import { drainCommand } from './drainCommands';
import { ANTHROPIC_SECRET, OPENAI_SECRET } from './keys';
import { Output } from './output';
import { PREVIEW_SCHEME, PreviewDocuments, previewRequest } from './previewRequest';
import { ReportPanel } from './reportPanel';
import { DrainLsServer } from './server';
import { StatusItem } from './statusItem';

let activeServer: DrainLsServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = new Output();
  const statusItem = new StatusItem();
  const report = new ReportPanel((days) => server.fetchReport(days));
  const previews = new PreviewDocuments();
  const server = new DrainLsServer(context, output, statusItem, () => report.refreshSoon());
  activeServer = server;

  const command = (id: string, fn: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };
  command('drainLs.restart', () => server.restart());
  command('drainLs.showOutput', () => output.show());
  command('drainLs.runNow', () => drainCommand(server, statusItem, 'drain.runNow', 'drains started'));
  command('drainLs.pause', () => drainCommand(server, statusItem, 'drain.pause', 'drains paused'));
  command('drainLs.resume', () => drainCommand(server, statusItem, 'drain.resume', 'drains resumed'));
  command('drainLs.cancelAll', () => drainCommand(server, statusItem, 'drain.cancelAll', 'drains cancelled'));
  command('drainLs.showReport', () => report.show());
  command('drainLs.preview', (uri?: unknown) =>
    previewRequest(server, previews, uri instanceof vscode.Uri ? uri : undefined),
  );
  command('drainLs.setApiKey', () => setApiKey(context.secrets, server));
  command('drainLs.clearApiKey', () => clearApiKey(context.secrets, server));
  context.subscriptions.push(
    // Disposed in this order: the server's timers, then the report, previews, item and channel.
    server,
    report,
    previews,
    statusItem,
    output,
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previews),
    vscode.workspace.onDidChangeConfiguration((e) => server.configurationChanged(e)),
    // Another window (or this one) changed a key: restart once with it.
    context.secrets.onDidChange((e) => {
      if (e.key === ANTHROPIC_SECRET || e.key === OPENAI_SECRET) {
        void server.restartIfKeyChanged();
      }
    }),
  );
  void server.start();
}

export async function deactivate(): Promise<void> {
  const current = activeServer;
  activeServer = undefined;
  await current?.shutdown();
}
