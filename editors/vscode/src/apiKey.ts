// Set API Key / Clear API Key: the Anthropic API key lives in VS Code's secret storage (never
// in settings) and reaches the server as ANTHROPIC_API_KEY; a change restarts the server.

import * as vscode from 'vscode';

import { DrainLsServer } from './server';
import { SECTION } from './settings';

/** The key of the API key in the secret storage. */
export const SECRET_KEY = 'drainLs.anthropicApiKey';

/** The command drainLs.setApiKey. */
export async function setApiKey(secrets: vscode.SecretStorage, server: DrainLsServer): Promise<void> {
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
  await secrets.store(SECRET_KEY, key.trim());
  await server.restartIfKeyChanged();
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

/** The command drainLs.clearApiKey. */
export async function clearApiKey(secrets: vscode.SecretStorage, server: DrainLsServer): Promise<void> {
  if (!(await secrets.get(SECRET_KEY))) {
    void vscode.window.showInformationMessage('drain-ls: no API key is stored.');
    return;
  }
  await secrets.delete(SECRET_KEY);
  await server.restartIfKeyChanged();
  vscode.window.setStatusBarMessage('drain-ls: API key removed, server restarted', 4000);
}
