import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fence, inlineCode, renderPreview } from '../src/preview';

// The shape drain_ls/engine/drains.py preview() returns, inside ls.preview()'s answer.
const RESULT = {
  uri: 'file:///w/a.py',
  backend: 'anthropic',
  previews: [
    {
      drain: 'docstrings',
      qualname: 'load',
      request: {
        model: 'claude-haiku-4-5',
        max_tokens: 400,
        system: ['You write Python docstrings.', 'import os\ndef load(path)'],
        messages: [{ role: 'user', content: 'def load(path):\n    """x"""\n    ```\n    return open(path)' }],
      },
      redactions: [{ kind: 'anthropic-key', line: 3 }],
      inputTokensEstimate: 120,
      worstCaseTokens: 520,
      worstCaseUsd: 0.00212,
      excluded: null,
    },
  ],
};

test('fences are longer than any backtick run inside', () => {
  assert.equal(fence('a'), '```\na\n```');
  assert.equal(fence('x ``` y'), '````\nx ``` y\n````');
  assert.equal(inlineCode('a`b'), '``a`b``');
  assert.equal(inlineCode('`a'), '`` `a ``');
});

test('the preview lists each request, its cost, redactions and exact content', () => {
  const md = renderPreview(RESULT, 'pkg/a.py');
  assert.match(md, /^# drain-ls: what the drains would send for `pkg\/a\.py`/);
  assert.match(md, /Nothing was sent/);
  assert.match(md, /\*\*1 request\*\*, at most 520 tokens and \$0\.0021 in all/);
  assert.match(md, /## docstrings: `load`/);
  assert.match(md, /Model `claude-haiku-4-5`, max_tokens 400/);
  assert.match(md, /Redacted: anthropic-key \(line 3\)/);
  assert.match(md, /````\ndef load\(path\):\n    """x"""\n    ```\n    return open\(path\)\n````/);
  assert.match(md, /\*\*System 2\*\*\n\n```\nimport os\ndef load\(path\)\n```/);
});

test('nothing to send, excluded files and errors are said plainly', () => {
  assert.match(renderPreview({ backend: 'offline', previews: [] }, 'a.py'), /No drain would send anything/);
  const excluded = renderPreview({ backend: 'anthropic', previews: [{ ...RESULT.previews[0], excluded: 'matches .env*' }] }, 'a.py');
  assert.match(excluded, /\*\*Not sent\*\*: the file is excluded \(matches \.env\*\)/);
  assert.match(renderPreview({ error: 'file:///x.py is not open' }, 'x.py'), /The server answered: file:\/\/\/x\.py is not open/);
});
