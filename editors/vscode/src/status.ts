// The status bar item's text and tooltip, from the server's `drain/status` notification.
// Pure: no `vscode` import, unit-tested in Node.

export type DrainState = 'idle' | 'running' | 'paused' | 'disabled' | 'rate-limited' | 'over-budget';

/** `drain/status` (docs/budget.md), plus the optional extras the server adds. */
export interface DrainStatus {
  state: DrainState | string;
  pending: number;
  running: number;
  consumedTokens: number;
  budgetTokens: number;
  costUsd: number;
  reason?: string;
  backend?: string;
  wastedTokens?: number;
  completed?: number;
  cancelled?: number;
  failed?: number;
  cacheHits?: number;
}

/** Today's spend from `drain.report` (1 day), when known. */
export interface Today {
  costUsd: number;
  totalTokens: number;
  budgetLeftTokens?: number;
  budgetLeftUsd?: number;
}

const ICONS: Record<string, string> = {
  idle: '$(check)',
  running: '$(sync~spin)',
  paused: '$(debug-pause)',
  disabled: '$(circle-slash)',
  'rate-limited': '$(watch)',
  'over-budget': '$(warning)',
  starting: '$(loading~spin)',
  stopped: '$(error)',
};

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** A `drain/status` payload made safe to format (missing or wrong fields become 0 / ''). */
export function normalizeStatus(raw: unknown): DrainStatus {
  const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const optional = (key: string): number | undefined =>
    typeof s[key] === 'number' ? (s[key] as number) : undefined;
  return {
    state: typeof s.state === 'string' && s.state ? s.state : 'disabled',
    pending: num(s.pending),
    running: num(s.running),
    consumedTokens: num(s.consumedTokens),
    budgetTokens: num(s.budgetTokens),
    costUsd: num(s.costUsd),
    reason: typeof s.reason === 'string' ? s.reason : '',
    backend: typeof s.backend === 'string' ? s.backend : undefined,
    wastedTokens: optional('wastedTokens'),
    completed: optional('completed'),
    cancelled: optional('cancelled'),
    failed: optional('failed'),
    cacheHits: optional('cacheHits'),
  };
}

/** 950 -> "950", 1234 -> "1.2k", 180000 -> "180k", 2500000 -> "2.5M". */
export function formatTokens(n: number): string {
  const value = Math.max(0, Math.round(num(n)));
  if (value < 1000) {
    return String(value);
  }
  const [unit, divisor] = value < 999_500 ? ['k', 1000] : ['M', 1_000_000];
  const scaled = value / divisor;
  const text = scaled < 9.95 ? scaled.toFixed(1) : String(Math.round(scaled));
  return text.replace(/\.0$/, '') + unit;
}

/** $0 -> "$0.00", $0.006 -> "$0.006", $0.0123 -> "$0.012", $0.5 -> "$0.50", $1.5 -> "$1.50". */
export function formatUsd(usd: number): string {
  const value = num(usd);
  if (value >= 1 || value === 0) {
    return '$' + value.toFixed(2);
  }
  let text = value.toFixed(value < 0.01 ? 4 : 3).replace(/0+$/, '');
  const decimals = text.length - text.indexOf('.') - 1;
  if (decimals < 2) {
    text += '0'.repeat(2 - decimals);
  }
  return '$' + text;
}

export function formatThousands(n: number): string {
  return Math.round(num(n)).toLocaleString('en-US');
}

/**
 * The status bar text: "$(check) drain idle 1.2k/180k tok · 3 queued · $0.012": the state,
 * tokens used of the drain budget, running and queued tasks, and the cost today (the session's
 * cost until today's is known).
 */
export function statusText(status: DrainStatus, today?: Today): string {
  const icon = ICONS[status.state] ?? '$(question)';
  if (status.state === 'disabled') {
    return `${icon} drain off`;
  }
  if (status.state === 'starting' || status.state === 'stopped') {
    return `${icon} drain-ls`;
  }
  const parts = [
    `${icon} drain ${status.state} ${formatTokens(status.consumedTokens)}/${formatTokens(status.budgetTokens)} tok`,
  ];
  if (status.running > 0) {
    parts.push(`${status.running} running`);
  }
  if (status.pending > 0) {
    parts.push(`${status.pending} queued`);
  }
  parts.push(formatUsd(today ? today.costUsd : status.costUsd));
  return parts.join(' · ');
}

/** Should the item use the warning background? */
export function isWarning(status: DrainStatus): boolean {
  return status.state === 'over-budget' || status.state === 'rate-limited' || status.state === 'stopped';
}

/** Markdown-escape a piece of text that comes from the server. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>&]/g, (c) => '\\' + c);
}

const DESCRIPTIONS: Record<string, string> = {
  idle: 'idle: waiting for the editor to be idle, or nothing to do',
  running: 'running',
  paused: 'paused',
  disabled: 'off',
  'rate-limited': 'rate-limited',
  'over-budget': 'over budget',
  starting: 'starting',
  stopped: 'not running',
};

/** The tooltip (Markdown): state and reason, tokens of budget, tasks, cost; click hint. */
export function statusTooltip(status: DrainStatus, today?: Today): string {
  const lines: string[] = [];
  const state = DESCRIPTIONS[status.state] ?? status.state;
  lines.push(`**drain-ls drains: ${escapeMarkdown(state)}**`);
  if (status.reason) {
    lines.push('', escapeMarkdown(status.reason));
  }
  if (status.state === 'disabled') {
    lines.push('', 'Static diagnostics are on. Turn the drains on with the setting `drainLs.llm.enabled`.');
  } else if (status.state !== 'starting' && status.state !== 'stopped') {
    lines.push(
      '',
      `- Tokens this session: ${formatThousands(status.consumedTokens)} of a drain budget of ${formatThousands(status.budgetTokens)}`,
      `- Tasks: ${status.running} running, ${status.pending} queued` +
        (status.completed !== undefined ? `, ${status.completed} done` : '') +
        (status.cancelled ? `, ${status.cancelled} cancelled` : '') +
        (status.failed ? `, ${status.failed} failed` : '') +
        (status.cacheHits ? `, ${status.cacheHits} from the cache` : ''),
      `- Cost this session: ${formatUsd(status.costUsd)}` +
        (status.wastedTokens ? ` (${formatThousands(status.wastedTokens)} tokens wasted by cancels)` : ''),
    );
    if (today) {
      lines.push(`- Cost today: ${formatUsd(today.costUsd)}, ${formatThousands(today.totalTokens)} tokens`);
      if (today.budgetLeftTokens !== undefined && today.budgetLeftUsd !== undefined) {
        lines.push(
          `- Left today: ${formatThousands(today.budgetLeftTokens)} tokens, ${formatUsd(today.budgetLeftUsd)}`,
        );
      }
    }
    if (status.backend) {
      lines.push(`- Backend: ${escapeMarkdown(status.backend)}`);
    }
  }
  lines.push('', 'Click for the cost report.');
  return lines.join('\n');
}
