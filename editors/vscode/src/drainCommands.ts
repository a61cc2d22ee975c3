// Run Now, Pause, Resume, Cancel All: the server's `drain.*` commands, whose answer is the
// drains' new status; a status bar message says what happened.

import * as vscode from 'vscode';

import { errorMessage } from './output';
import { DrainLsServer } from './server';
import { StatusItem } from './statusItem';

/** Run the server command `command` (`drain.runNow`...) and report `done` ("drains paused"). */
export async function drainCommand(
  server: DrainLsServer,
  statusItem: StatusItem,
  command: string,
  done: string,
): Promise<void> {
  let result: unknown;
  try {
    result = await server.execute(command);
  } catch (error) {
    void vscode.window.showErrorMessage(`drain-ls: ${command} failed: ${errorMessage(error)}`);
    return;
  }
  if (!result || typeof result !== 'object') {
    return;
  }
  server.onStatus(result);
  const status = statusItem.current;
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
