// Preview Request: what the drains would send for a Python file (`drain.preview`), shown as a
// read-only Markdown document beside it (rendered by preview.ts).

import * as nodePath from 'node:path';
import * as vscode from 'vscode';

import { errorMessage } from './output';
import { renderPreview } from './preview';
import { DrainLsServer } from './server';

/** The URI scheme of the preview documents. */
export const PREVIEW_SCHEME = 'drain-ls-preview';

/** Read-only documents for Preview Request. */
export class PreviewDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
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

/** The command drainLs.preview: `target`, or the active editor's file if none is given. */
export async function previewRequest(
  server: DrainLsServer,
  previews: PreviewDocuments,
  target?: vscode.Uri,
): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const document = target
    ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString())
    : editor?.document;
  if (!document || document.languageId !== 'python' || document.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage('drain-ls: open a Python file to preview what the drains would send for it.');
    return;
  }
  let result: unknown;
  try {
    const uri = server.protocolUri(document.uri);
    result = await server.execute('drain.preview', [uri]);
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
  previews.set(previewUri, renderPreview(result, label));
  const doc = await vscode.workspace.openTextDocument(previewUri);
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: false });
}
