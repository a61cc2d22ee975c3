import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatTokens, formatUsd, isWarning, normalizeStatus, statusText, statusTooltip } from '../src/status';

const base = { state: 'idle', pending: 0, running: 0, consumedTokens: 0, budgetTokens: 170000, costUsd: 0, reason: '' };

test('token counts are short', () => {
  assert.equal(formatTokens(0), '0');
  assert.equal(formatTokens(950), '950');
  assert.equal(formatTokens(1234), '1.2k');
  assert.equal(formatTokens(9960), '10k');
  assert.equal(formatTokens(170000), '170k');
  assert.equal(formatTokens(999_499), '999k');
  assert.equal(formatTokens(999_500), '1M');
  assert.equal(formatTokens(2_500_000), '2.5M');
  assert.equal(formatTokens(-5), '0');
  assert.equal(formatTokens(Number.NaN), '0');
});

test('dollars keep the digits that matter', () => {
  assert.equal(formatUsd(0), '$0.00');
  assert.equal(formatUsd(0.00025), '$0.0003');
  assert.equal(formatUsd(0.0123), '$0.012');
  assert.equal(formatUsd(0.006), '$0.006');
  assert.equal(formatUsd(0.5), '$0.50');
  assert.equal(formatUsd(0.00001), '$0.00');
  assert.equal(formatUsd(1.5), '$1.50');
});

test('status text: state, tokens of budget, tasks, cost today', () => {
  assert.equal(statusText(normalizeStatus(base)), '$(check) drain idle 0/170k tok · $0.00');
  const running = normalizeStatus({ ...base, state: 'running', running: 2, pending: 3, consumedTokens: 1234, costUsd: 0.0123 });
  assert.equal(statusText(running), '$(sync~spin) drain running 1.2k/170k tok · 2 running · 3 queued · $0.012');
  // Today's cost, once known, rather than the session's.
  assert.equal(
    statusText(running, { costUsd: 0.25, totalTokens: 90000 }),
    '$(sync~spin) drain running 1.2k/170k tok · 2 running · 3 queued · $0.25',
  );
  assert.equal(statusText(normalizeStatus({ ...base, state: 'paused', pending: 1 })), '$(debug-pause) drain paused 0/170k tok · 1 queued · $0.00');
  assert.equal(statusText(normalizeStatus({ ...base, state: 'disabled', budgetTokens: 0 })), '$(circle-slash) drain off');
  assert.match(statusText(normalizeStatus({ ...base, state: 'over-budget' })), /^\$\(warning\) drain/);
  assert.match(statusText(normalizeStatus({ ...base, state: 'rate-limited' })), /^\$\(watch\) drain/);
});

test('warnings for over-budget, rate-limited and a stopped server', () => {
  assert.equal(isWarning(normalizeStatus({ ...base, state: 'over-budget' })), true);
  assert.equal(isWarning(normalizeStatus({ ...base, state: 'rate-limited' })), true);
  assert.equal(isWarning(normalizeStatus({ ...base, state: 'idle' })), false);
});

test('a malformed notification does not break the item', () => {
  const s = normalizeStatus({ state: 42, pending: 'x', costUsd: null });
  assert.equal(s.state, 'disabled');
  assert.equal(s.pending, 0);
  assert.equal(statusText(normalizeStatus(null)), '$(circle-slash) drain off');
});

test('tooltip: reason (escaped), tokens of budget, tasks, cost, today, click hint', () => {
  const tooltip = statusTooltip(
    normalizeStatus({
      ...base,
      state: 'over-budget',
      reason: 'daily USD cap *reached* <b>',
      consumedTokens: 4200,
      pending: 2,
      completed: 5,
      costUsd: 0.5,
      backend: 'anthropic',
    }),
    { costUsd: 0.75, totalTokens: 9000, budgetLeftTokens: 1000, budgetLeftUsd: 0.25 },
  );
  assert.match(tooltip, /over budget/);
  assert.match(tooltip, /daily USD cap \\\*reached\\\* \\<b\\>/);
  assert.match(tooltip, /4,200 of a drain budget of 170,000/);
  assert.match(tooltip, /0 running, 2 queued, 5 done/);
  assert.match(tooltip, /Cost this session: \$0\.50/);
  assert.match(tooltip, /Cost today: \$0\.75, 9,000 tokens/);
  assert.match(tooltip, /Left today: 1,000 tokens, \$0\.25/);
  assert.match(tooltip, /Click for the cost report/);
  assert.match(statusTooltip(normalizeStatus({ state: 'disabled', reason: 'llm.enabled is false' })), /drainLs\.llm\.enabled/);
});
