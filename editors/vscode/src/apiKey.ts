// Set API Key / Clear API Key: the key of the current backend lives in VS Code's secret storage
// (never in settings) and reaches the server in an environment variable; a change restarts the
// server. With `drainLs.llm.backend` "openai" that is the key of the OpenAI-compatible endpoint
// at `drainLs.llm.baseUrl`, given as `drainLs.llm.apiKeyEnv` or OPENAI_API_KEY; otherwise the
// Anthropic API key, given as ANTHROPIC_API_KEY (keys.ts).

import * as vscode from 'vscode';

import { ANTHROPIC_SECRET as SECRET_KEY, KeyTarget, keyTarget } from './keys';
import { DrainLsServer } from './server';
import { SECTION } from './settings';

/** The command drainLs.setApiKey. */
export async function setApiKey(secrets: vscode.SecretStorage, server: DrainLsServer): Promise<void> {
  const target = keyTarget(server.keySettings());
  if (target.backend === 'openai') {
    return setOpenaiKey(secrets, server, target);
  }
  // The Anthropic key (also with the offline backend), asked for as in the first release.
  const key = await vscode.window.showInputBox({
    title: target.title,
    prompt: target.prompt,
    placeHolder: target.placeHolder,
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

/** The command drainLs.clearApiKey: the key of the current backend. */
export async function clearApiKey(secrets: vscode.SecretStorage, server: DrainLsServer): Promise<void> {
  const target = keyTarget(server.keySettings());
  if (target.backend === 'openai') {
    return clearOpenaiKey(secrets, server, target);
  }
  if (!(await secrets.get(SECRET_KEY))) {
    void vscode.window.showInformationMessage('drain-ls: no API key is stored.');
    return;
  }
  await secrets.delete(SECRET_KEY);
  await server.restartIfKeyChanged();
  vscode.window.setStatusBarMessage('drain-ls: API key removed, server restarted', 4000);
}

function openSettings(query: string): void {
  void vscode.commands.executeCommand('workbench.action.openSettings', query);
}

/** Set API Key with the openai backend: the key of the endpoint at drainLs.llm.baseUrl. */
async function setOpenaiKey(secrets: vscode.SecretStorage, server: DrainLsServer, target: KeyTarget): Promise<void> {
  if (!target.env.ok) {
    const choice = await vscode.window.showErrorMessage(`drain-ls: ${target.env.message}`, 'Open Settings');
    if (choice === 'Open Settings') {
      openSettings('drainLs.llm.apiKeyEnv');
    }
    return;
  }
  const key = await vscode.window.showInputBox({
    title: target.title,
    prompt: target.prompt,
    placeHolder: target.placeHolder,
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'Enter a key, or press Escape to cancel.'),
  });
  if (key === undefined) {
    return;
  }
  await secrets.store(target.secret, key.trim());
  await server.restartIfKeyChanged();
  if (target.unusedBecause) {
    const choice = await vscode.window.showWarningMessage(
      `drain-ls: API key stored and the server restarted, but ${target.unusedBecause}`,
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      openSettings('drainLs.llm.apiKeyEnv');
    }
  } else if (!server.keySettings().enabled) {
    const choice = await vscode.window.showInformationMessage(
      'drain-ls: API key stored and the server restarted. The drains use it when drainLs.llm.enabled is on.',
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      openSettings('drainLs.llm');
    }
  } else {
    vscode.window.setStatusBarMessage(`drain-ls: API key stored, server restarted (${target.env.name})`, 4000);
  }
}

/** Clear API Key with the openai backend. */
async function clearOpenaiKey(secrets: vscode.SecretStorage, server: DrainLsServer, target: KeyTarget): Promise<void> {
  if (!(await secrets.get(target.secret))) {
    void vscode.window.showInformationMessage('drain-ls: no API key is stored for the openai backend.');
    return;
  }
  await secrets.delete(target.secret);
  await server.restartIfKeyChanged();
  vscode.window.setStatusBarMessage('drain-ls: openai backend API key removed, server restarted', 4000);
}
