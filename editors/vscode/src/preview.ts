// The Preview Request document: `drain.preview`'s JSON as Markdown (exactly what the drains of
// a file would send, after redaction, and what it could cost). Pure: unit-tested in Node.

import { formatThousands, formatUsd } from './status';

interface PreviewEntry {
  drain?: unknown;
  qualname?: unknown;
  excluded?: unknown;
  request?: {
    model?: unknown;
    max_tokens?: unknown;
    system?: unknown;
    messages?: unknown;
  };
  redactions?: unknown;
  inputTokensEstimate?: unknown;
  worstCaseTokens?: unknown;
  worstCaseUsd?: unknown;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

/** Text as a fenced block whose fence is longer than any backtick run inside it. */
export function fence(text: string, language = ''): string {
  const longest = Math.max(0, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const marks = '`'.repeat(Math.max(3, longest + 1));
  return `${marks}${language}\n${text.replace(/\n$/, '')}\n${marks}`;
}

/** Inline code that survives backticks in the text. */
export function inlineCode(text: string): string {
  const clean = text.replace(/\n/g, ' ');
  const longest = Math.max(0, ...Array.from(clean.matchAll(/`+/g), (m) => m[0].length));
  const marks = '`'.repeat(longest + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${marks}${pad}${clean}${pad}${marks}`;
}

/** The Markdown document for `drain.preview`'s answer about `fileLabel`. */
export function renderPreview(raw: unknown, fileLabel: string): string {
  const result = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const lines: string[] = [`# drain-ls: what the drains would send for ${inlineCode(fileLabel)}`, ''];
  if (typeof result.error === 'string') {
    lines.push(`The server answered: ${result.error}`);
    return lines.join('\n') + '\n';
  }
  const previews = (Array.isArray(result.previews) ? result.previews : []) as PreviewEntry[];
  const backend = str(result.backend) || 'unknown';
  lines.push(
    `Nothing was sent to make this page. Backend: ${inlineCode(backend)}. ` +
      'Each request is shown after redaction; the worst case is what the budget reserves before sending.',
    '',
  );
  if (previews.length === 0) {
    lines.push('No drain would send anything for this file: every definition has its docstring, or the drains for it are turned off.');
    return lines.join('\n') + '\n';
  }
  const totalTokens = previews.reduce((sum, p) => sum + num(p.worstCaseTokens), 0);
  const totalUsd = previews.reduce((sum, p) => sum + num(p.worstCaseUsd), 0);
  lines.push(
    `**${previews.length} request${previews.length === 1 ? '' : 's'}**, at most ${formatThousands(totalTokens)} tokens and ${formatUsd(totalUsd)} in all.`,
    '',
  );
  for (const p of previews) {
    const request = p.request ?? {};
    lines.push(`## ${str(p.drain)}: ${inlineCode(str(p.qualname))}`, '');
    lines.push(
      `- Model ${inlineCode(str(request.model))}, max_tokens ${num(request.max_tokens)}`,
      `- Input estimate ${formatThousands(num(p.inputTokensEstimate))} tokens; worst case ${formatThousands(num(p.worstCaseTokens))} tokens, ${formatUsd(num(p.worstCaseUsd))}`,
    );
    if (p.excluded) {
      lines.push(`- **Not sent**: the file is excluded (${str(p.excluded)})`);
    }
    const redactions = Array.isArray(p.redactions) ? p.redactions : [];
    if (redactions.length > 0) {
      const items = redactions.map((r) => {
        const entry = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
        return `${str(entry.kind)} (line ${num(entry.line)})`;
      });
      lines.push(`- Redacted: ${items.join(', ')}`);
    }
    lines.push('');
    const system = Array.isArray(request.system) ? request.system : [];
    system.forEach((part, i) => {
      lines.push(`**System ${i + 1}**`, '', fence(str(part)), '');
    });
    const messages = Array.isArray(request.messages) ? request.messages : [];
    for (const message of messages) {
      const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
      lines.push(`**${str(m.role) || 'message'}**`, '', fence(str(m.content)), '');
    }
  }
  return lines.join('\n');
}
