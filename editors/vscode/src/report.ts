// The cost report webview's HTML, from `drain.report`'s JSON (drain_ls/report.py).
// Pure: no `vscode` import, unit-tested in Node. Plain HTML, inline SVG and CSS: no CDN, no
// remote resource; the page's Content-Security-Policy allows only its own nonce'd style and
// script.

import { formatTokens, formatUsd, formatThousands } from './status';

export interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface ReportDay {
  day: string;
  tokens: TokenCounts;
  totalTokens: number;
  costUsd: number;
  completed: number;
  cancelled: number;
  failed: number;
  cacheHits: number;
  wastedTokens: number;
  savedTokens: number;
}

export interface Report {
  days: number;
  perDay: ReportDay[];
  total: Omit<ReportDay, 'day'>;
  topDrains: { drain: string; costUsd: number; runs: number }[];
  budgetLeftToday: { tokens: number; usd: number };
  error?: string;
}

export interface RenderOptions {
  /** A fresh random nonce for this page's style and script. */
  nonce: string;
  /** Days shown (the report's `days` wins when present). */
  days?: number;
  /** Today, `YYYY-MM-DD` in UTC (the ledger's days are UTC days). */
  today: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function n(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function emptyDay(day: string): ReportDay {
  return {
    day,
    tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    totalTokens: 0,
    costUsd: 0,
    completed: 0,
    cancelled: 0,
    failed: 0,
    cacheHits: 0,
    wastedTokens: 0,
    savedTokens: 0,
  };
}

function normalizeDay(raw: unknown): ReportDay | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const d = raw as Record<string, unknown>;
  if (typeof d.day !== 'string') {
    return undefined;
  }
  const t = (typeof d.tokens === 'object' && d.tokens !== null ? d.tokens : {}) as Record<string, unknown>;
  const tokens = { input: n(t.input), output: n(t.output), cacheRead: n(t.cacheRead), cacheWrite: n(t.cacheWrite) };
  return {
    day: d.day,
    tokens,
    totalTokens: n(d.totalTokens) || tokens.input + tokens.output + tokens.cacheRead + tokens.cacheWrite,
    costUsd: n(d.costUsd),
    completed: n(d.completed),
    cancelled: n(d.cancelled),
    failed: n(d.failed),
    cacheHits: n(d.cacheHits),
    wastedTokens: n(d.wastedTokens),
    savedTokens: n(d.savedTokens),
  };
}

/** `YYYY-MM-DD` of the day `offset` days before `today` (UTC). */
export function dayBefore(today: string, offset: number): string {
  const date = new Date(`${today}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - offset);
  return date.toISOString().slice(0, 10);
}

/** One entry per day of the window, oldest first; days without runs are zero. */
export function fillDays(perDay: unknown, days: number, today: string): ReportDay[] {
  const byDay = new Map<string, ReportDay>();
  for (const raw of Array.isArray(perDay) ? perDay : []) {
    const day = normalizeDay(raw);
    if (day) {
      byDay.set(day.day, day);
    }
  }
  const out: ReportDay[] = [];
  const count = Math.max(1, Math.min(366, Math.floor(days)));
  for (let i = count - 1; i >= 0; i--) {
    const key = dayBefore(today, i);
    out.push(byDay.get(key) ?? emptyDay(key));
  }
  return out;
}

const SERIES: { key: keyof TokenCounts; label: string; css: string }[] = [
  { key: 'input', label: 'input', css: 's-input' },
  { key: 'output', label: 'output', css: 's-output' },
  { key: 'cacheWrite', label: 'cache write', css: 's-cache-write' },
  { key: 'cacheRead', label: 'cache read', css: 's-cache-read' },
];

/** The per-day chart: one stacked bar of tokens per day, in an inline SVG. */
export function renderChart(days: ReportDay[]): string {
  const width = 640;
  const height = 180;
  const top = 12;
  const bottom = 36;
  const left = 48;
  const plotHeight = height - top - bottom;
  const plotWidth = width - left - 8;
  const peak = Math.max(0, ...days.map((d) => d.totalTokens));
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(2, Math.min(48, slot * 0.7));
  const labelEvery = Math.ceil(days.length / 10);
  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Tokens per day" preserveAspectRatio="xMinYMin meet">`,
  );
  parts.push(`<line class="axis" x1="${left}" y1="${top + plotHeight}" x2="${width - 8}" y2="${top + plotHeight}"/>`);
  if (peak > 0) {
    parts.push(`<text class="tick" x="${left - 6}" y="${top + 4}" text-anchor="end">${escapeHtml(formatTokens(peak))}</text>`);
  }
  parts.push(`<text class="tick" x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>`);
  days.forEach((day, i) => {
    const x = left + i * slot + (slot - barWidth) / 2;
    let y = top + plotHeight;
    const title =
      `${day.day}: ${formatThousands(day.totalTokens)} tokens, ${formatUsd(day.costUsd)}, ` +
      `${day.completed} done, ${day.cancelled} cancelled, ${day.failed} failed, ${day.cacheHits} cached`;
    parts.push(`<g class="day"><title>${escapeHtml(title)}</title>`);
    for (const series of SERIES) {
      const value = day.tokens[series.key];
      if (peak <= 0 || value <= 0) {
        continue;
      }
      const h = Math.max(1, (value / peak) * plotHeight);
      y -= h;
      parts.push(
        `<rect class="${series.css}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"/>`,
      );
    }
    if (i % labelEvery === 0 || i === days.length - 1) {
      parts.push(
        `<text class="tick" x="${(x + barWidth / 2).toFixed(1)}" y="${top + plotHeight + 14}" text-anchor="middle">${escapeHtml(day.day.slice(5))}</text>`,
      );
      if (day.costUsd > 0) {
        parts.push(
          `<text class="tick cost" x="${(x + barWidth / 2).toFixed(1)}" y="${top + plotHeight + 28}" text-anchor="middle">${escapeHtml(formatUsd(day.costUsd))}</text>`,
        );
      }
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  const legend = SERIES.map(
    (s) => `<span class="key"><svg width="10" height="10" aria-hidden="true"><rect class="${s.css}" width="10" height="10"/></svg> ${escapeHtml(s.label)}</span>`,
  ).join(' ');
  return parts.join('') + `<div class="legend">${legend}</div>`;
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 24px; }
h1 { font-size: 1.4em; font-weight: 600; margin: 16px 0 4px; }
h2 { font-size: 1.1em; font-weight: 600; margin: 20px 0 8px; }
.muted { color: var(--vscode-descriptionForeground); }
.toolbar { display: flex; gap: 6px; margin: 8px 0 12px; flex-wrap: wrap; }
button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 4px 10px; cursor: pointer; font: inherit; }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.selected { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.card { border: 1px solid var(--vscode-panel-border, rgba(128,128,128,.35)); padding: 8px 10px; }
.card .value { font-size: 1.3em; font-weight: 600; }
.card .label { color: var(--vscode-descriptionForeground); }
.chart { width: 100%; max-width: 760px; height: auto; }
.axis { stroke: var(--vscode-descriptionForeground); stroke-width: 1; }
.tick { fill: var(--vscode-descriptionForeground); font-size: 10px; }
.s-input { fill: var(--vscode-charts-blue, #3794ff); }
.s-output { fill: var(--vscode-charts-green, #89d185); }
.s-cache-write { fill: var(--vscode-charts-orange, #d18616); }
.s-cache-read { fill: var(--vscode-charts-purple, #b180d7); }
.legend { display: flex; gap: 14px; margin: 4px 0 0 48px; color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; margin-top: 4px; }
th, td { text-align: right; padding: 3px 10px; border-bottom: 1px solid var(--vscode-panel-border, rgba(128,128,128,.25)); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; }
tr.total td { font-weight: 600; }
.bar { display: inline-block; height: 8px; background: var(--vscode-charts-blue, #3794ff); vertical-align: middle; }
.error { color: var(--vscode-errorForeground); }
`;

const SCRIPT = `
const vscode = acquireVsCodeApi();
for (const button of document.querySelectorAll('button[data-days]')) {
  button.addEventListener('click', () => vscode.postMessage({ type: 'days', days: Number(button.dataset.days) }));
}
document.getElementById('refresh')?.addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
`;

function page(rawNonce: string, body: string, days: number): string {
  const nonce = rawNonce.replace(/[^A-Za-z0-9+/=]/g, '');
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  const buttons = [7, 30, 90]
    .map((d) => `<button data-days="${d}"${d === days ? ' class="selected"' : ''}>${d} days</button>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>drain-ls report</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>drain-ls: the last ${days} days</h1>
<div class="toolbar">${buttons}<button id="refresh">Refresh</button></div>
${body}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

/** A page that says what went wrong (no server, an error from the server). */
export function renderErrorPage(message: string, options: RenderOptions): string {
  return page(options.nonce, `<p class="error">${escapeHtml(message)}</p>`, options.days ?? 7);
}

function card(value: string, label: string): string {
  return `<div class="card"><div class="value">${escapeHtml(value)}</div><div class="label">${escapeHtml(label)}</div></div>`;
}

/** The whole report page. */
export function renderReport(raw: unknown, options: RenderOptions): string {
  const report = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Report>;
  const days = typeof report.days === 'number' && report.days > 0 ? report.days : (options.days ?? 7);
  if (typeof report.error === 'string') {
    return renderErrorPage(`The server could not make the report: ${report.error}`, { ...options, days });
  }
  const perDay = fillDays(report.perDay, days, options.today);
  const total = normalizeDay({ day: 'total', ...(report.total ?? {}) }) ?? emptyDay('total');
  const left = (report.budgetLeftToday ?? {}) as Partial<Report['budgetLeftToday']>;
  const body: string[] = [];
  body.push('<div class="cards">');
  body.push(card(formatUsd(total.costUsd), 'cost'));
  body.push(card(formatTokens(total.totalTokens), 'tokens billed'));
  body.push(card(String(total.completed), 'drain runs done'));
  body.push(card(`${total.cancelled} / ${total.failed}`, 'cancelled / failed'));
  body.push(card(`${total.cacheHits} · ${formatTokens(total.savedTokens)}`, 'cache hits · tokens saved'));
  body.push(card(formatTokens(total.wastedTokens), 'tokens wasted by cancels'));
  body.push(card(`${formatTokens(n(left.tokens))} · ${formatUsd(n(left.usd))}`, 'budget left today'));
  body.push('</div>');

  body.push('<h2>Tokens per day</h2>');
  if (total.totalTokens === 0 && perDay.every((d) => d.totalTokens === 0)) {
    body.push(
      '<p class="muted">No drain has spent a token in these days. Drains run when <code>drainLs.llm.enabled</code> is on and the editor is idle.</p>',
    );
  }
  body.push(renderChart(perDay));

  body.push('<h2>Per day</h2>');
  body.push(
    '<table><thead><tr><th>day</th><th>input</th><th>output</th><th>cache read</th><th>cache write</th><th>cost</th><th>done</th><th>cancelled</th><th>failed</th><th>cached</th><th>wasted</th><th>saved</th></tr></thead><tbody>',
  );
  const row = (d: ReportDay, cls = ''): string =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(d.day)}</td><td>${formatThousands(d.tokens.input)}</td><td>${formatThousands(d.tokens.output)}</td><td>${formatThousands(d.tokens.cacheRead)}</td><td>${formatThousands(d.tokens.cacheWrite)}</td><td>${escapeHtml(formatUsd(d.costUsd))}</td><td>${d.completed}</td><td>${d.cancelled}</td><td>${d.failed}</td><td>${d.cacheHits}</td><td>${formatThousands(d.wastedTokens)}</td><td>${formatThousands(d.savedTokens)}</td></tr>`;
  for (const d of perDay.filter((day) => day.totalTokens > 0 || day.completed + day.cancelled + day.failed + day.cacheHits > 0)) {
    body.push(row(d));
  }
  body.push(row(total, 'total'));
  body.push('</tbody></table>');

  body.push('<h2>Top drains by cost</h2>');
  const top = (Array.isArray(report.topDrains) ? report.topDrains : []).filter(
    (d) => typeof d === 'object' && d !== null,
  );
  if (top.length === 0) {
    body.push('<p class="muted">None yet.</p>');
  } else {
    const peak = Math.max(...top.map((d) => n(d.costUsd)));
    body.push('<table><thead><tr><th>drain</th><th>runs</th><th>cost</th><th></th></tr></thead><tbody>');
    for (const d of top) {
      const width = peak > 0 ? Math.max(1, Math.round((120 * n(d.costUsd)) / peak)) : 0;
      body.push(
        `<tr><td>${escapeHtml(d.drain)}</td><td>${n(d.runs)}</td><td>${escapeHtml(formatUsd(n(d.costUsd)))}</td><td><svg width="${width}" height="8" aria-hidden="true"><rect class="s-input" width="${width}" height="8"/></svg></td></tr>`,
      );
    }
    body.push('</tbody></table>');
  }
  return page(options.nonce, body.join('\n'), days);
}
