// Drives the VS Code workbench in headless Debian Chromium (playwright-core) so the suite runs in the real Node
// extension host: opens the workbench with extensionDevelopmentPath/extensionTestsPath in the URL payload, relays the
// host's console, serves the suite's screenshot requests ("SKIPGPT_SHOT <name>" → <shots>/<name>.png plus a JSON of
// what the webview frames contain), and exits with the code the workbench passes to codeAutomationExit.
// Usage: node driver.js <baseUrl> <extensionDevelopmentPath> <extensionTestsPath> <folder> <shotsDir>
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');

const [baseUrl, devPath, testsPath, folder, shots] = process.argv.slice(2);
const authority = new URL(baseUrl).host;
const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
const T0 = Date.now();
const log = (...a) => console.log(`[+${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...a);

/** Counts, inside every frame (webviews are nested iframes), the elements the suite asserts on. */
async function frameCensus(page) {
  const out = [];
  for (const f of page.frames()) {
    try {
      const c = await f.evaluate(() => ({
        view: document.body && document.body.dataset.view, cells: document.querySelectorAll('.heatmap .cell').length,
        skippedHalves: document.querySelectorAll('.heatmap .cell .sk').length, tokens: document.querySelectorAll('.stream .tok').length,
        routedTokens: document.querySelectorAll('#routed .tok').length, denseTokens: document.querySelectorAll('#dense .tok').length,
        colHeads: document.querySelectorAll('.heatmap .col-head').length,
        styledBars: [...document.querySelectorAll('.tok .bar, #session-bars .barline div')].filter((b) => b.style.width !== '').length,
        bars: document.querySelectorAll('.tok .bar, #session-bars .barline div').length, sessionBars: document.querySelectorAll('#session-bars .barline').length,
        summary: (document.getElementById('summary') || document.getElementById('totals') || { textContent: '' }).textContent,
        divergence: (document.getElementById('divergence') || { textContent: '' }).textContent,
        error: (document.getElementById('error') || { textContent: '' }).textContent,
        csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || { content: '' }).content,
        slider: (document.getElementById('threshold') || { value: '' }).value,
        sliderCaption: (document.getElementById('threshold-value') || { textContent: '' }).textContent,
        info: (document.getElementById('info') || { textContent: '' }).textContent,
      }));
      if (c.view) out.push(c);
    } catch { /* cross-origin or detached frame */ }
  }
  return out;
}

/** User actions inside a webview frame, done the way a user's input arrives: DOM events on the real controls. */
async function webviewAction(page, view, action, arg) {
  for (const f of page.frames()) {
    let isView = false;
    try { isView = await f.evaluate((v) => !!document.body && document.body.dataset.view === v, view); } catch { /* detached */ }
    if (!isView) continue;
    return f.evaluate(([a, x]) => {
      const rows = (sel) => document.querySelectorAll(sel).length;
      if (a === 'hover-first-token') {            // panel: per-layer card of the first routed token
        const tok = document.querySelector('#routed .tok');
        tok.dispatchEvent(new MouseEvent('mouseenter', { clientX: 100, clientY: 100 }));
        const hover = document.getElementById('hover');
        return { visible: hover.style.display === 'block', rows: hover.querySelectorAll('table tr').length, text: hover.textContent.slice(0, 200) };
      }
      if (a === 'hover-state') return { visible: document.getElementById('hover').style.display === 'block' };
      if (a === 'click-last-token') {             // inspector: router probabilities of the clicked token
        const heads = document.querySelectorAll('.heatmap .col-head');
        heads[heads.length - 1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
        return { heads: heads.length, rows: rows('#details table tr'), title: document.querySelector('#details h2').textContent };
      }
      if (a === 'slider') {                       // inspector: move the threshold slider and let go
        const s = document.getElementById('threshold');
        s.value = x;
        s.dispatchEvent(new Event('input'));
        s.dispatchEvent(new Event('change'));
        return { value: s.value };
      }
      if (a === 'click') { document.getElementById(x).click(); return { clicked: x }; }
      throw new Error(`unknown action ${a}`);
    }, [action, arg]);
  }
  throw new Error(`no ${view} webview frame`);
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chr-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, viewport: { width: 1500, height: 900 },
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  // code-server's PWA service worker can take control of webview iframes and stall them in a fresh profile.
  await ctx.addInitScript(() => {
    const sw = navigator.serviceWorker;
    if (!sw) return;
    const orig = sw.register.bind(sw);
    sw.register = (url, opts) => (String(url).includes('/_static/out/browser/serviceWorker.js')
      ? Promise.reject(new Error('code-server PWA service worker disabled for tests')) : orig(url, opts));
  });
  let done;
  const finished = new Promise((r) => (done = r));
  await page.exposeFunction('codeAutomationExit', async (code) => done(code));
  page.on('pageerror', (e) => console.log('  [pageerror]', e.message));
  let summary = null;
  page.on('console', async (m) => {
    let vals;
    try { vals = await Promise.all(m.args().map((a) => a.jsonValue())); } catch { vals = [m.text()]; }
    if (typeof vals[0] === 'string') {   // host console arrives printf-style with %c CSS markers
      const n = (vals[0].match(/%c/g) || []).length;
      vals = [vals[0].replace(/%c/g, ''), ...vals.slice(1 + n)];
    }
    // mocha's own printf string can be the second argument, after the host's prefix
    if (vals.length > 1 && typeof vals[1] === 'string' && /%[sdifjo]/.test(vals[1])) vals = [`${vals[0]}${util.format(...vals.slice(1))}`];
    const t = util.format(...vals).replace(/^\s*(INFO|WARN|ERR|DEBUG|TRACE)\s+/, '');
    if (t.trim() === '') return;
    if (/Failed to load resource|ERR_NAME_NOT_RESOLVED|iframe which has both|Creating a socket|connection token/.test(t)) return;
    const shot = t.match(/SKIPGPT_SHOT ([\w-]+)/);
    if (shot) {
      const name = shot[1];
      await new Promise((r) => setTimeout(r, 700));            // let the webview paint its last message
      const census = await frameCensus(page);
      fs.writeFileSync(path.join(shots, `${name}.json`), JSON.stringify(census, null, 1));
      await page.screenshot({ path: path.join(shots, `${name}.png`) }).catch((e) => log('screenshot failed', e.message));
      fs.writeFileSync(path.join(shots, `${name}.done`), '');   // the suite waits for this marker
      log('screenshot', name);
      return;
    }
    const act = t.match(/SKIPGPT_ACT ([\w-]+) (panel|inspector) ([\w-]+) ?(\S*)/);
    if (act) {
      const [, name, view, action, arg] = act;
      const result = await webviewAction(page, view, action, arg).catch((e) => ({ error: e.message }));
      fs.writeFileSync(path.join(shots, `${name}.json`), JSON.stringify(result));
      fs.writeFileSync(path.join(shots, `${name}.done`), '');
      log('action', view, action, arg, JSON.stringify(result));
      return;
    }
    const sm = t.trim().match(/^(\d+) passed, (\d+) failed.*/);
    if (sm) summary = sm[0];
    console.log('  [host]', t.slice(0, 800));
  });
  const q = new URLSearchParams();
  q.set('folder', path.resolve(folder));
  q.set('payload', JSON.stringify([['extensionDevelopmentPath', remote(devPath)], ['extensionTestsPath', remote(testsPath)]]));
  log('open workbench', folder);
  await page.goto(`${baseUrl}/?${q}`, { waitUntil: 'domcontentloaded' });
  const timeoutMs = Number(process.env.TEST_TIMEOUT_MS || 600000);
  const code = await Promise.race([finished, new Promise((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  await page.screenshot({ path: path.join(shots, 'final.png') }).catch(() => {});
  log('suite finished, exit code =', code);
  if (summary) console.log(summary); else console.log(`0 passed, 1 failed (suite did not report: ${code})`);
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  // Green only when the suite itself reported and nothing failed: a host that died (a native crash takes the whole
  // extension host) never reports, and must fail the step whatever exit code the workbench gave.
  const failed = summary ? Number(summary.match(/(\d+) failed/)[1]) : 1;
  process.exit(code === 0 && summary && failed === 0 ? 0 : 1);
})().catch((e) => { console.error('driver failed:', e); process.exit(2); });
