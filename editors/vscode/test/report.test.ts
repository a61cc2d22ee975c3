import assert from 'node:assert/strict';
import { test } from 'node:test';

import { dayBefore, escapeHtml, fillDays, renderErrorPage, renderReport } from '../src/report';

const day = (d: string, input: number, output: number, cost: number) => ({
  day: d,
  tokens: { input, output, cacheRead: 0, cacheWrite: 0 },
  totalTokens: input + output,
  costUsd: cost,
  completed: 1,
  cancelled: 0,
  failed: 0,
  cacheHits: 0,
  wastedTokens: 0,
  savedTokens: 0,
});

// The shape drain_ls/report.py returns.
const REPORT = {
  days: 7,
  perDay: [day('2026-11-27', 1000, 200, 0.002), day('2026-11-30', 3000, 600, 0.006)],
  total: { ...day('total', 4000, 800, 0.008), completed: 2 },
  topDrains: [
    { drain: 'docstrings', costUsd: 0.006, runs: 3 },
    { drain: '<script>alert(1)</script>', costUsd: 0.002, runs: 1 },
  ],
  budgetLeftToday: { tokens: 496400, usd: 0.994 },
};

test('escapeHtml escapes the five characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(escapeHtml(undefined), '');
});

test('days without runs are filled in, oldest first', () => {
  assert.equal(dayBefore('2026-03-01', 1), '2026-02-28');
  const days = fillDays(REPORT.perDay, 7, '2026-11-30');
  assert.deepEqual(days.map((d) => d.day), ['2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27', '2026-11-28', '2026-11-29', '2026-11-30']);
  assert.equal(days[3].totalTokens, 1200);
  assert.equal(days[4].totalTokens, 0);
  assert.equal(fillDays('garbage', 2, '2026-11-30').length, 2);
});

test('the page has a strict CSP, a nonce on its only style and script, and no remote resource', () => {
  const html = renderReport(REPORT, { nonce: 'abc123', today: '2026-11-30' });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'nonce-abc123'/);
  assert.match(csp, /script-src 'nonce-abc123'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, / style="/);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.match(html, /<script nonce="abc123">/);
  assert.match(html, /<style nonce="abc123">/);
});

test('the chart has one bar group per day, scaled to the busiest day', () => {
  const html = renderReport(REPORT, { nonce: 'n', today: '2026-11-30' });
  assert.equal((html.match(/<g class="day">/g) ?? []).length, 7);
  // The busiest day's bars fill the plot's height (132 px): input 3000 of 3600.
  assert.match(html, /<rect class="s-input" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="110.0"\/>/);
  assert.match(html, /<title>2026-11-30: 3,600 tokens, \$0\.006, 1 done/);
  assert.match(html, /the last 7 days/);
});

test('figures: totals, top drains, budget left; server text is escaped', () => {
  const html = renderReport(REPORT, { nonce: 'n', today: '2026-11-30' });
  assert.match(html, /\$0\.008/);
  assert.match(html, /496k · \$0\.994/);
  assert.match(html, /<td>docstrings<\/td><td>3<\/td><td>\$0\.006<\/td>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /<script>alert/);
});

test('an empty report says so; an error report shows the error, escaped', () => {
  const empty = renderReport({ days: 30, perDay: [], total: {}, topDrains: [], budgetLeftToday: { tokens: 0, usd: 0 } }, { nonce: 'n', today: '2026-11-30' });
  assert.match(empty, /No drain has spent a token/);
  assert.match(empty, /the last 30 days/);
  assert.equal((empty.match(/<g class="day">/g) ?? []).length, 30);
  const error = renderReport({ error: 'ledger <locked>' }, { nonce: 'n', today: '2026-11-30' });
  assert.match(error, /ledger &lt;locked&gt;/);
  assert.match(renderErrorPage('not <running>', { nonce: 'n', today: '2026-11-30' }), /not &lt;running&gt;/);
  assert.match(renderReport(null, { nonce: 'n', today: '2026-11-30' }), /No drain has spent a token/);
});
