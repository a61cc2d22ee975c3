// The status bar item: the drains' state from `drain/status` (text and tooltip from status.ts);
// clicking it opens the report.

import * as vscode from 'vscode';

import { DrainStatus, isWarning, normalizeStatus, statusText, statusTooltip, Today } from './status';

/** The status bar item, fed by `drain/status`; clicking it opens the report. */
export class StatusItem implements vscode.Disposable {
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
