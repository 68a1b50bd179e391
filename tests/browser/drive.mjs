// Drives Debian's Chromium (headless) through one plan, for Portero's
// browser tests (tests/interop/browser_pages.rs,
// tests/interop/account_story_browser.rs): playwright-core from
// target/interop/node, executablePath /usr/bin/chromium, and every `*.test`
// host name resolved to 127.0.0.1 inside the browser.
//
//   node tests/browser/drive.mjs '<plan JSON>'
//
// A plan: {"shots": "<folder>", "steps": [step, …]} where a step is one of
//   {"go": url} {"fill": selector, "value": text} {"click": selector}
//   {"waitUrl": substring} {"shot": name} {"text": true}
//   {"text": name}        the page's text, also kept under that name ("named")
//   {"expect": text}      fails unless the page's text holds it
//   {"check": selector}   ticks a checkbox
//   {"open": selector}    opens a <details> (clicking its summary)
//   {"as": name}          goes on as another person: a browser context of
//                         its own (own cookies), made on first use; the
//                         steps before the first "as" are "default"'s
//   {"size": [w, h]}      resizes the window (a phone, a desktop)
//   {"fits": name}        fails unless the page fits the window's width: no
//                         sideways scrolling, and no element (visible, not
//                         inside a closed <details>) reaching past the right
//                         edge; `name` says which page in the error
//   {"post": url, "fields": {name: value}}
//                         sends a form of this page's site that the page
//                         does not offer (an old tab, a saved form), as the
//                         browser sends any form; waits for the answer
//   {"mailLink": file, "to": address, "nth": n, "prefix": url}
//                         waits for the n-th (from 0) mail to `to` in a mail
//                         catcher's file (tests/common/smtp_catcher.py, one
//                         JSON line a mail) and opens the first link in its
//                         text part that starts with `prefix`
// Clicks wait for the navigation they cause. Prints one JSON line:
// {"ok": true, "urls": [...], "texts": [...], "named": {...}}
// or {"ok": false, "error": "...", "url": "..."}
// (a failure also saves "<folder>/failure.png").

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
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
let size = { width: plan.width || 900, height: plan.height || 700 };
const people = new Map();
async function person(name) {
  if (!people.has(name)) {
    const context = await browser.newContext({
      viewport: size,
      // The browser's language, as its Accept-Language says.
      locale: plan.language ? plan.language.split(',')[0] : 'en-US',
    });
    people.set(name, await context.newPage());
  }
  return people.get(name);
}

// The link in the n-th mail to `to` that starts with `prefix`, once it arrived.
async function mailLink(step) {
  const deadline = Date.now() + 10000;
  for (;;) {
    let text = '';
    try { text = readFileSync(step.mailLink, 'utf8'); } catch { /* not yet */ }
    const mails = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
      .filter((m) => m.rcpt_tos.includes(step.to));
    const mail = mails[step.nth || 0];
    if (mail) {
      const at = (mail.text || '').indexOf(step.prefix);
      if (at < 0) throw new Error(`no link ${step.prefix} in the mail to ${step.to}`);
      return mail.text.slice(at).split(/\s/)[0];
    }
    if (Date.now() > deadline) throw new Error(`no mail number ${step.nth || 0} to ${step.to}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let page = await person('default');
const out = { ok: true, urls: [], texts: [], named: {} };
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
      const text = await page.innerText('body');
      out.texts.push(text);
      if (typeof step.text === 'string') out.named[step.text] = text;
    } else if (step.expect) {
      const text = await page.innerText('body');
      if (!text.includes(step.expect)) {
        throw new Error(`expected "${step.expect}" on the page, which says: ${text.slice(0, 600).replace(/\n+/g, ' | ')}`);
      }
    } else if (step.check) {
      await page.check(step.check);
    } else if (step.open) {
      const details = page.locator(step.open).first();
      if (!(await details.evaluate((d) => d.open))) {
        await details.locator('summary').first().click();
      }
    } else if (step.fits) {
      const over = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width) {
          out.push(`the page is ${document.documentElement.scrollWidth}px wide in ${width}px`);
        }
        for (const el of document.body.querySelectorAll('*')) {
          const r = el.getBoundingClientRect();
          if (r.width === 0 || r.height === 0) continue;
          // What a closed <details> holds is not shown (its summary is).
          if (el.closest('details:not([open])') && !el.closest('summary')) continue;
          if (r.right > width + 0.5 || r.left < -0.5) {
            const name = el.tagName.toLowerCase() + (el.className ? `.${el.className}` : '');
            out.push(`${name} "${(el.innerText || el.value || '').slice(0, 40)}" spans ${Math.round(r.left)}–${Math.round(r.right)}px`);
          }
        }
        return out;
      });
      if (over.length) {
        throw new Error(`${step.fits}: does not fit ${size.width}px: ${over.slice(0, 5).join('; ')}`);
      }
    } else if (step.as) {
      page = await person(step.as);
    } else if (step.size) {
      size = { width: step.size[0], height: step.size[1] };
      await page.setViewportSize(size);
    } else if (step.post) {
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load', timeout: 15000 }),
        page.evaluate(({ action, fields }) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = action;
          for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.type = 'hidden';
            input.name = name;
            input.value = value;
            form.appendChild(input);
          }
          document.body.appendChild(form);
          form.submit();
        }, { action: step.post, fields: step.fields || {} }),
      ]);
    } else if (step.mailLink) {
      await page.goto(await mailLink(step), { waitUntil: 'load' });
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
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
