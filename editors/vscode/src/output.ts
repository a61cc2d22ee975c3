// The output channel "drain-ls": the language client's log and trace (drainLs.trace.server) and
// the extension's own lines, each prefixed "[drain-ls]".

import * as vscode from 'vscode';

/** An error's message, for the output channel and error notifications. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** The output channel, shared by the language client and the extension. */
export class Output implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('drain-ls');

  /** One line of the extension's own, as "[drain-ls] message". */
  log(message: string): void {
    this.channel.appendLine(`[drain-ls] ${message}`);
  }

  /** Show the channel without taking the focus. */
  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
