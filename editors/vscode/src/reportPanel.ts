// The cost report webview (Show Report, or a click on the status bar item): one panel, reused,
// its HTML from report.ts, its data from `drain.report`.

import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

import { renderErrorPage, renderReport } from './report';

/** `drain.report`'s answer, or why there is none. */
export type ReportResult = { ok: true; data: unknown } | { ok: false; message: string };

function utcToday(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The cost report webview (one panel, reused). */
export class ReportPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private days = 7;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly fetch: (days: number) => Promise<ReportResult>) {}

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
