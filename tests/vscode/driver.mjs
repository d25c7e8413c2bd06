// Drives VS Code in a browser (code-server) for tests/e2e/test_vscode.py.
// Reads one JSON request a line on stdin ({op, ...}), answers one JSON line on stdout
// ({ok: true, value?} or {ok: false, error}). Uses playwright-core with the system Chromium:
// `node driver.mjs PLAYWRIGHT_CORE_DIR CHROMIUM`.
import { createRequire } from 'node:module';
import readline from 'node:readline';

const [playwrightDir, chromiumPath] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)(playwrightDir);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
let page;
const consoleLines = [];

const EDITOR = '.editor-group-container.active .monaco-editor .view-lines';
const QUICK_INPUT = '.quick-input-widget';

const ops = {
  /** Open the workbench at `url` and wait until it is ready for the palette. */
  async open({ url, timeout = 60000 }) {
    page = await context.newPage();
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout });
    await page.locator('.statusbar').waitFor({ timeout });
  },

  /** Run a command by its palette title (F1, then the title, then Enter). */
  async palette({ title, timeout = 20000 }) {
    // A window that takes focus meanwhile (a note opening) closes the palette: try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await runFromPalette(title, timeout);
        return;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
  },

  /** Wait for an input box (quick input) and type `text` into it, then Enter. */
  async answer({ text, timeout = 20000 }) {
    const input = page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: 'visible', timeout });
    await input.fill(text);
    await page.waitForTimeout(200);
    await input.press('Enter');
    await input.waitFor({ state: 'hidden', timeout });
  },

  /** Choose `path` in VS Code's own file dialog (the one a browser window gets). */
  async pickFile({ path, timeout = 20000 }) {
    const input = page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: 'visible', timeout });
    // The dialog fills in its starting folder a moment after it shows; wait for that first.
    const deadline = Date.now() + timeout;
    while (!(await input.inputValue()).endsWith('/')) {
      if (Date.now() > deadline) throw new Error('the file dialog never showed its folder');
      await page.waitForTimeout(100);
    }
    // It may also reset the value while it lists a folder: type the path until it takes it.
    for (let attempt = 1; ; attempt++) {
      await input.fill(path);
      await page.waitForTimeout(500);
      await input.press('Enter');
      try {
        await input.waitFor({ state: 'hidden', timeout: 3000 });
        return;
      } catch (error) {
        if (attempt === 5) throw error;
      }
    }
  },

  /** Open a workspace file through Quick Open (Ctrl+P). */
  async openFile({ name, timeout = 20000 }) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+P');
    const input = page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ timeout });
    await input.fill(name);
    const row = page.locator(`${QUICK_INPUT} .quick-input-list .monaco-list-row`, { hasText: name });
    await row.first().waitFor({ timeout });
    await input.press('Enter');
    await page.locator('.tab.active', { hasText: name }).waitFor({ timeout });
    await page.locator(EDITOR).click();
  },

  async press({ key }) {
    await page.keyboard.press(key);
  },

  async type({ text }) {
    await page.keyboard.type(text);
  },

  /** Wait until the active editor shows `text`; answer its visible text. */
  async waitEditorText({ text, timeout = 30000 }) {
    const lines = page.locator(EDITOR);
    await lines.filter({ hasText: text }).first().waitFor({ timeout });
    // Monaco renders spaces as no-break spaces.
    return (await lines.first().innerText()).replaceAll('\u00a0', ' ');
  },

  /** Wait for an element (CSS selector) with an optional text; answer its text. */
  async waitFor({ selector, text, timeout = 30000 }) {
    const element = page.locator(selector, text === undefined ? {} : { hasText: text }).first();
    await element.waitFor({ timeout });
    return (await element.innerText()).replaceAll('\u00a0', ' ');
  },

  async text({ selector }) {
    return page.locator(selector).first().innerText();
  },

  /** The texts of every element that matches `selector` now (no wait). */
  async texts({ selector }) {
    return (await page.locator(selector).allInnerTexts()).map((text) => text.replaceAll('\u00a0', ' '));
  },

  /** Title of the active editor tab. */
  async activeTab() {
    return page.locator('.tab.active').first().innerText();
  },

  /** Screenshot of the whole page, or of one element (`selector`), to `path`. */
  async screenshot({ path, selector }) {
    if (selector) {
      await page.locator(selector).first().screenshot({ path });
    } else {
      await page.screenshot({ path });
    }
  },

  async console() {
    return consoleLines.slice(-200);
  },

  async close() {
    await browser.close();
  },
};

async function runFromPalette(title, timeout) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator(`${QUICK_INPUT} input`);
  await input.waitFor({ timeout });
  await input.fill(`>${title}`, { timeout: 5000 });
  // The palette matches fuzzily: run the row that is exactly this command, once it is
  // the focused one (the list settles as it filters), else click it.
  const exact = { has: page.locator('.label-name', { hasText: new RegExp(`^${escape(title)}$`) }) };
  const row = page.locator(`${QUICK_INPUT} .monaco-list-row`, exact).first();
  await row.waitFor({ timeout });
  const focused = page.locator(`${QUICK_INPUT} .monaco-list-row.focused`, exact).first();
  try {
    await focused.waitFor({ timeout: 3000 });
    await input.press('Enter', { timeout: 5000 });
  } catch {
    await row.click({ timeout: 5000 });
  }
  await row.waitFor({ state: 'hidden', timeout });
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const request = JSON.parse(line);
    const value = await ops[request.op](request);
    answer = { ok: true, value: value ?? null };
  } catch (error) {
    answer = { ok: false, error: String(error?.stack ?? error) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  if (answer.ok && JSON.parse(line).op === 'close') {
    break;
  }
}
await browser.close().catch(() => {});
process.exit(0);
