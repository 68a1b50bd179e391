// Drives Debian's Chromium (headless) through one plan, for Portero's
// browser tests (tests/browser_pages.rs): playwright-core from
// target/interop/node, executablePath /usr/bin/chromium, and every `*.test`
// host name resolved to 127.0.0.1 inside the browser.
//
//   node tests/browser/drive.mjs '<plan JSON>'
//
// A plan: {"shots": "<folder>", "steps": [step, …]} where a step is one of
//   {"go": url} {"fill": selector, "value": text} {"click": selector}
//   {"waitUrl": substring} {"shot": name} {"text": true}
// Clicks wait for the navigation they cause. Prints one JSON line:
// {"ok": true, "urls": [...], "texts": [...]} or {"ok": false, "error": "...", "url": "..."}
// (a failure also saves "<folder>/failure.png").

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const base = resolve(process.env.NODE_PEERS_DIR || 'target/interop/node');
const entry = createRequire(`${base}/package.json`).resolve('playwright-core');
const playwright = await import(pathToFileURL(entry).href);
const chromium = playwright.chromium || playwright.default.chromium;

const plan = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP *.test 127.0.0.1',
  ],
});
const context = await browser.newContext({
  viewport: { width: plan.width || 900, height: plan.height || 700 },
  // The browser's language, as its Accept-Language says.
  locale: plan.language ? plan.language.split(',')[0] : 'en-US',
});
const page = await context.newPage();
const out = { ok: true, urls: [], texts: [] };
try {
  for (const step of plan.steps) {
    if (step.go) {
      await page.goto(step.go, { waitUntil: 'load' });
    } else if (step.fill) {
      await page.fill(step.fill, step.value);
    } else if (step.click) {
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load', timeout: 15000 }),
        page.click(step.click),
      ]);
    } else if (step.waitUrl) {
      await page.waitForURL((u) => u.href.includes(step.waitUrl), { timeout: 15000, waitUntil: 'load' });
    } else if (step.shot) {
      await page.screenshot({ path: `${plan.shots}/${step.shot}.png`, fullPage: true });
    } else if (step.text) {
      out.texts.push(await page.innerText('body'));
    }
    out.urls.push(page.url());
  }
} catch (err) {
  out.ok = false;
  out.error = String(err && err.message || err).split('\n')[0];
  out.url = page.url();
  out.page = (await page.content().catch(() => '')).slice(0, 2000);
  await page.screenshot({ path: `${plan.shots}/failure.png`, fullPage: true }).catch(() => {});
}
process.stdout.write(JSON.stringify(out) + '\n');
await browser.close();
