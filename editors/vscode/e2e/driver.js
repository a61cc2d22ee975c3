// Drives code-server in headless Chromium: waits for drain-ls's squiggle on an unused import,
// applies "Remove unused import" with Ctrl+., checks the line is gone in the editor and on
// disk, finds the drain status bar item, opens the report from it and a request preview; sets
// the API key of the anthropic and the openai backends (the server's environment).
// Run by e2e/run.sh, which passes everything through the environment.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const URL = process.env.E2E_URL;
const WORKSPACE = process.env.E2E_WORKSPACE;
const ARTIFACTS = process.env.E2E_ARTIFACTS;
const FILE = path.join(WORKSPACE, 'app.py');
const SLOW = Number(process.env.E2E_TIMEOUT_SCALE || '1');

const t0 = Date.now();
let phaseStart = Date.now();
function phase(name) {
  const now = Date.now();
  console.log(`[e2e] ${name}: ${((now - phaseStart) / 1000).toFixed(1)}s`);
  phaseStart = now;
}

async function poll(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs * SLOW;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${timeoutMs * SLOW} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text());
    }
  });
  try {
    await run(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'success.png') });
    console.log(`[e2e] passed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  } catch (error) {
    const shot = path.join(ARTIFACTS, 'failure.png');
    await page.screenshot({ path: shot }).catch(() => undefined);
    fs.writeFileSync(path.join(ARTIFACTS, 'failure.html'), await page.content().catch(() => ''));
    fs.writeFileSync(path.join(ARTIFACTS, 'browser-console-errors.txt'), consoleErrors.join('\n'));
    console.error(`[e2e] FAILED: ${error && error.stack ? error.stack : error}`);
    console.error(`[e2e] screenshot: ${shot}`);
    process.exitCode = 1;
  } finally {
    await browser.close().catch(() => undefined);
  }
}

async function run(page) {
  await page.goto(`${URL}/?folder=${encodeURIComponent(WORKSPACE)}`, { timeout: 60_000 * SLOW });
  await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 * SLOW });
  await page.locator('.statusbar').waitFor({ timeout: 60_000 * SLOW });
  phase('workbench loaded');

  // Open app.py with Quick Open.
  await poll('app.py open in an editor', 60_000, async () => {
    if (await page.locator('.tabs-container .tab', { hasText: 'app.py' }).count()) {
      return true;
    }
    await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } }).catch(() => undefined);
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 5000 });
    await input.fill('app.py');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'app.py' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab', { hasText: 'app.py' }).waitFor({ timeout: 5000 });
    return true;
  });
  await page.locator('.monaco-editor .view-lines', { hasText: 'import os' }).waitFor({ timeout: 30_000 * SLOW });
  phase('app.py opened');

  // The server's diagnostic for the unused import.
  const squiggle = page.locator('.monaco-editor .squiggly-warning').first();
  await squiggle.waitFor({ state: 'attached', timeout: 90_000 * SLOW });
  phase('squiggle on the unused import');

  // Ctrl+. on it, then "Remove unused import".
  const box = await poll('the squiggle to have a size', 10_000, () => squiggle.boundingBox());
  await page.mouse.click(box.x + Math.max(2, box.width / 2), box.y + box.height / 2);
  const row = page.locator('.action-widget .monaco-list-row', { hasText: /Remove unused import/ }).first();
  await poll('the quick fix "Remove unused import"', 30_000, async () => {
    if (await row.isVisible()) {
      return true;
    }
    await page.keyboard.press('Control+.');
    await row.waitFor({ timeout: 3000 });
    return true;
  });
  const titles = await page.locator('.action-widget .monaco-list-row').allInnerTexts();
  console.log(`[e2e] quick fixes offered: ${titles.map((t) => t.replace(/\s+/g, ' ').trim()).join(' | ')}`);
  await row.click();
  await poll('"import os" to leave the editor', 20_000, async () => {
    // Monaco renders spaces as no-break spaces.
    const text = (await page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
    return !/import os\b/.test(text) && /import sys/.test(text);
  });
  phase('quick fix applied in the editor');

  // On disk: saved by the workspace edit, or by Ctrl+S if the editor is left dirty.
  const onDisk = () => {
    const text = fs.readFileSync(FILE, 'utf8');
    return !/^import os$/m.test(text) && /^import sys$/m.test(text);
  };
  const savedAlready = await poll('the file on disk', 3000, onDisk).catch(() => false);
  if (!savedAlready) {
    await page.keyboard.press('Control+S');
    await poll('the file on disk without "import os"', 20_000, onDisk);
  }
  console.log(`[e2e] on disk ${savedAlready ? '(saved by the edit)' : '(after Ctrl+S)'}:\n${fs.readFileSync(FILE, 'utf8').replace(/^/gm, '    ')}`);
  await poll('the warning squiggle to go', 20_000, async () =>
    (await page.locator('.monaco-editor .squiggly-warning').count()) === 0,
  );
  phase('file on disk checked, no squiggle left');

  // The status bar item fed by drain/status (llm.enabled with the offline backend).
  const item = page.locator('.statusbar-item', { hasText: /drain [a-z-]+ \S+\/\S+ tok/ }).first();
  await item.waitFor({ timeout: 60_000 * SLOW });
  console.log(`[e2e] status bar item: "${(await item.innerText()).replace(/\s+/g, ' ').trim()}"`);
  phase('status bar item');

  // Clicking it opens the report webview.
  await item.click();
  await page.locator('.tabs-container .tab', { hasText: 'drain-ls Report' }).waitFor({ timeout: 30_000 * SLOW });
  await poll('the report page inside its webview', 30_000, async () => {
    for (const frame of page.frames()) {
      const text = await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '');
      if (text.includes('drain-ls: the last 7 days') && text.includes('Top drains by cost')) {
        return true;
      }
    }
    return false;
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'report.png') });
  phase('report webview');

  // Preview Request from the command palette, on app.py.
  await page.locator('.tabs-container .tab', { hasText: 'app.py' }).first().click();
  await runCommand(page, 'Preview Request');
  await page.locator('.tabs-container .tab', { hasText: 'drain-ls preview' }).waitFor({ timeout: 30_000 * SLOW });
  await page.locator('.monaco-editor .view-lines', { hasText: 'what the drains would send' }).first().waitFor({ timeout: 30_000 * SLOW });
  await page.screenshot({ path: path.join(ARTIFACTS, 'preview.png') });
  phase('preview document');

  // Pause and Resume: the item follows the server's answer.
  const state = (name) => page.locator(`.statusbar-item [aria-label^="drain-ls drains ${name}"], .statusbar-item[aria-label^="drain-ls drains ${name}"]`).first();
  await runCommand(page, 'Pause');
  await state('paused').waitFor({ timeout: 20_000 * SLOW });
  await runCommand(page, 'Resume');
  await poll('the drains to leave "paused"', 20_000, async () =>
    (await state('paused').count()) === 0 && (await page.locator('.statusbar-item', { hasText: /drain [a-z-]+ \S+\/\S+ tok/ }).count()) > 0,
  );
  phase('pause and resume');

  // Set API Key: kept in the secret storage, given to a restarted server as ANTHROPIC_API_KEY.
  const key = 'sk-ant-e2e-canary-0123456789';
  const before = serverPids();
  await runCommand(page, 'Set API Key');
  const input = page.locator('.quick-input-widget input[type="password"]');
  await input.waitFor({ timeout: 10_000 * SLOW });
  await input.fill(key);
  await page.keyboard.press('Enter');
  const restarted = await poll('a new server process with ANTHROPIC_API_KEY', 30_000, () => {
    const now = serverPids().filter((pid) => !before.includes(pid));
    return now.find((pid) => environ(pid).includes(`ANTHROPIC_API_KEY=${key}`));
  });
  console.log(`[e2e] server restarted (pid ${restarted}) with the key in its environment`);
  for (const file of walk(process.env.E2E_USER_DATA)) {
    if (/\.(json|yaml)$/.test(file) && fs.readFileSync(file, 'utf8').includes(key)) {
      throw new Error(`the API key was written to ${file}`);
    }
  }
  await page.locator('.statusbar-item', { hasText: /drain [a-z-]+ \S+\/\S+ tok/ }).first().waitFor({ timeout: 30_000 * SLOW });
  // The backend is "offline": the extension says the key is used with "anthropic" only.
  const hint = page.locator('.notifications-toasts .notification-toast', { hasText: 'API key stored and the server restarted' });
  await hint.first().waitFor({ timeout: 10_000 * SLOW });
  await page.keyboard.press('Escape');
  await runCommand(page, 'Show Output');
  await closeNotifications(page);
  phase('set API key, server restarted');

  // Restart Server: no "command already exists" (the server's drain.* commands re-register).
  await runCommand(page, 'Restart Server');
  await poll('a restarted server', 30_000, () => serverPids().some((pid) => pid !== restarted));
  await page.locator('.statusbar-item', { hasText: /drain [a-z-]+ \S+\/\S+ tok/ }).first().waitFor({ timeout: 30_000 * SLOW });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const toasts = await page.locator('.notifications-toasts').allInnerTexts();
  const problems = toasts.join('\n').split('\n').filter((line) => /already exists|error|fail|not running|not found/i.test(line));
  if (problems.length) {
    throw new Error(`notifications: ${problems.join(' | ')}`);
  }
  phase('restart server');

  // A settings change in the Settings editor reaches the running server: turning the drains
  // off shows "drain off", turning them on again brings the token count back.
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Preferences: Open User Settings');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Open User Settings$/ }).first().waitFor({ timeout: 10_000 * SLOW });
  await page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Open User Settings$/ }).first().click();
  // The search box is a small Monaco editor: click it and type.
  const search = page.locator('.settings-editor .settings-header .suggest-input-container').first();
  await search.waitFor({ timeout: 20_000 * SLOW });
  await search.click();
  await page.keyboard.type('drainLs.llm.enabled');
  await page.locator('.settings-editor', { hasText: '1 Setting Found' }).first().waitFor({ timeout: 20_000 * SLOW });
  const checkbox = page.locator('.settings-editor .setting-item-bool .setting-value-checkbox').first();
  const toggle = async (checked) => {
    await poll(`the checkbox to be ${checked ? 'on' : 'off'}`, 20_000, async () => {
      if ((await checkbox.getAttribute('aria-checked')) === String(checked)) {
        return true;
      }
      await checkbox.click();
      await new Promise((resolve) => setTimeout(resolve, 500));
      return (await checkbox.getAttribute('aria-checked')) === String(checked);
    });
  };
  await toggle(false);
  await page.locator('.statusbar-item', { hasText: 'drain off' }).first().waitFor({ timeout: 30_000 * SLOW });
  console.log('[e2e] drainLs.llm.enabled off in the Settings editor: the item says "drain off"');
  await toggle(true);
  await page.locator('.statusbar-item', { hasText: /drain [a-z-]+ \S+\/\S+ tok/ }).first().waitFor({ timeout: 30_000 * SLOW });
  await page.keyboard.press('Escape');
  phase('settings change: drains off and on');

  // The openai backend: Set API Key asks for the key of drainLs.llm.baseUrl and the server gets
  // it in the variable drainLs.llm.apiKeyEnv names (the Anthropic key still as before);
  // changing that name restarts the server with the key in the new variable; Clear API Key
  // clears the openai key only. Drains off: nothing is sent to the (absent) endpoint.
  const openaiKey = 'sk-openai-e2e-canary-9876543210';
  const baseUrl = 'http://127.0.0.1:9/v1';
  // Through the Settings editor: code-server does not notice the settings file changing on disk.
  await findSetting(page, 'drainLs.llm.enabled', 'Enabled');
  await toggle(false);
  await setSetting(page, 'drainLs.llm.backend', 'Backend', 'openai');
  await setSetting(page, 'drainLs.llm.baseUrl', 'Base Url', baseUrl);
  await setSetting(page, 'drainLs.llm.apiKeyEnv', 'Api Key Env', 'E2E_OPENAI_KEY');
  const beforeOpenai = serverPids();
  const title = page.locator('.quick-input-widget .quick-input-title');
  await poll('Set API Key to ask for the key of the openai endpoint', 30_000, async () => {
    await runCommand(page, 'Set API Key');
    await input.waitFor({ timeout: 10_000 * SLOW });
    if ((await title.innerText()).includes(baseUrl)) {
      return true;
    }
    await page.keyboard.press('Escape'); // the settings file was not read yet
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return false;
  });
  await input.fill(openaiKey);
  await page.keyboard.press('Enter');
  const withOpenai = await poll('a new server process with E2E_OPENAI_KEY', 30_000, () => {
    const now = serverPids().filter((pid) => !beforeOpenai.includes(pid));
    return now.find((pid) => environ(pid).includes(`E2E_OPENAI_KEY=${openaiKey}`));
  });
  const env = environ(withOpenai);
  if (!env.includes(`ANTHROPIC_API_KEY=${key}`) || env.some((entry) => entry.startsWith('OPENAI_API_KEY='))) {
    throw new Error('the server with the openai key lost the Anthropic key, or got OPENAI_API_KEY');
  }
  console.log(`[e2e] openai backend: server restarted (pid ${withOpenai}) with the key in E2E_OPENAI_KEY`);
  const enableHint = page.locator('.notifications-toasts .notification-toast', { hasText: 'when drainLs.llm.enabled is on' });
  await enableHint.first().waitFor({ timeout: 10_000 * SLOW });
  await closeNotifications(page);
  const beforeRename = serverPids();
  await setSetting(page, 'drainLs.llm.apiKeyEnv', 'Api Key Env', 'E2E_OTHER_KEY');
  const renamed = await poll('a new server process with the key in E2E_OTHER_KEY', 30_000, () =>
    serverPids().find((pid) => !beforeRename.includes(pid) && environ(pid).includes(`E2E_OTHER_KEY=${openaiKey}`)),
  );
  if (environ(renamed).some((entry) => entry.startsWith('E2E_OPENAI_KEY='))) {
    throw new Error('the key is still in the old variable');
  }
  const beforeClear = serverPids();
  await runCommand(page, 'Clear API Key');
  const cleared = await poll('a new server process without the openai key', 30_000, () =>
    serverPids().find((pid) => !beforeClear.includes(pid) && !environ(pid).some((entry) => entry.includes(openaiKey))),
  );
  if (!environ(cleared).includes(`ANTHROPIC_API_KEY=${key}`)) {
    throw new Error('Clear API Key with the openai backend cleared the Anthropic key');
  }
  for (const file of walk(process.env.E2E_USER_DATA)) {
    if (/\.(json|yaml|log)$/.test(file) && fs.readFileSync(file, 'utf8').includes(openaiKey)) {
      throw new Error(`the openai key was written to ${file}`);
    }
  }
  phase('openai backend: set, rename the variable, clear');
}

/** The user settings as VS Code wrote them. */
function userSettings() {
  try {
    return JSON.parse(fs.readFileSync(path.join(process.env.E2E_USER_DATA, 'User', 'settings.json'), 'utf8'));
  } catch {
    return {};
  }
}

/** The Settings editor (user settings) searched for `id`: the item whose title is `label`. */
async function findSetting(page, id, label) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Preferences: Open User Settings');
  // (Not the JSON one; the row may also say "recently used".)
  const row = page
    .locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Open User Settings/ })
    .filter({ hasNotText: 'JSON' })
    .first();
  await row.waitFor({ timeout: 10_000 * SLOW });
  await row.click();
  const search = page.locator('.settings-editor .settings-header .suggest-input-container').first();
  await search.waitFor({ timeout: 20_000 * SLOW });
  await search.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(id);
  // Other settings may link to it in their descriptions: the one with this title.
  const item = page
    .locator('.settings-editor .setting-item-contents')
    .filter({ has: page.locator('.setting-item-label', { hasText: new RegExp(`^${label}$`) }) })
    .first();
  await item.waitFor({ timeout: 20_000 * SLOW });
  return item;
}

/** Sets a string or enum setting in the Settings editor; waits until VS Code has written it. */
async function setSetting(page, id, label, value) {
  const item = await findSetting(page, id, label);
  const written = () => userSettings()[id] === value;
  const select = item.locator('select').first();
  if (await select.count()) {
    await select.selectOption(value).catch(() => undefined);
    const saved = await poll(`${id} written`, 3_000, written).catch(() => false);
    if (!saved) {
      // The custom drop-down: open it and pick the option.
      await item.locator('.monaco-select-box').first().click();
      await page.locator('.monaco-select-box-dropdown-container .monaco-list-row', { hasText: new RegExp(`^${value}`) }).first().click();
    }
  } else {
    const input = item.locator('input').first();
    await input.waitFor({ timeout: 10_000 * SLOW });
    await input.fill(value);
  }
  await poll(`${id} = ${JSON.stringify(value)} in the user settings`, 20_000, written);
  await page.keyboard.press('Escape');
}

async function closeNotifications(page) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Notifications: Clear All Notifications');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Clear All Notifications' }).first().waitFor({ timeout: 10_000 * SLOW });
  await page.keyboard.press('Enter');
  await poll('the notifications to close', 10_000, async () => (await page.locator('.notifications-toasts .notification-toast').count()) === 0);
}

async function runCommand(page, title, prefix = 'drain-ls: ') {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const palette = page.locator('.quick-input-widget input');
  await palette.waitFor({ timeout: 10_000 * SLOW });
  await palette.fill(`>${prefix}${title}`);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: `${prefix}${title}` })
    .first()
    .waitFor({ timeout: 10_000 * SLOW });
  await page.keyboard.press('Enter');
}

/** Pids of the drain-ls servers (`<drainLs.path> --stdio`) running now. */
function serverPids() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.includes('--stdio') && argv.some((a) => a === process.env.E2E_DRAIN_LS || a.endsWith('/drain-ls')) && environ(name).includes(`DRAIN_LS_HOME=${process.env.DRAIN_LS_HOME}`)) {
        out.push(name);
      }
    } catch {
      // gone
    }
  }
  return out;
}

function environ(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walk(full);
    } else if (entry.isFile()) {
      yield full;
    }
  }
}

main();
