// Drives the VS Code workbench in headless Debian Chromium (playwright-core) so the suite runs in the real Node
// extension host: opens the workbench with extensionDevelopmentPath/extensionTestsPath in the URL payload, relays the
// host's console, serves the suite's screenshot requests ("SKIPGPT_SHOT <name>" → <shots>/<name>.png plus a JSON of
// what the webview frames contain), types and times ghost text for the keystroke benchmark ("SKIPGPT_KEYS"), and
// exits with the code the workbench passes to codeAutomationExit.
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

/** Ghost text of an inline suggestion in VS Code 1.100's editor DOM: the part on the cursor's line is an injected
 * `after` decoration (`ghost-text-decoration`, `-preview` while it is a preview), the further lines a view zone
 * (`ghost-text`); both checked in workbench.js of the code-server build test/e2e/setup.sh installs. */
const GHOST = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview, .monaco-editor .ghost-text';

/**
 * Types like a user (SKIPGPT_KEYS): named keys and characters `gapMs` apart through real keyboard events, then
 * measures in the page, on one clock, from the last keydown to the first DOM change after it that leaves ghost text
 * in the editor (a MutationObserver: the frame paints right after). Gives up after `waitMs` (a miss). Then watches
 * `settleMs` longer for the ghost text growing (a suggestion shown early and completed): `finalMs` is its last change.
 */
async function typeAndTimeGhost(page, { keys, gapMs = 60, waitMs = 3000, settleMs = 0 }) {
  await page.evaluate((sel) => {
    const st = { lastKey: 0, ghostAt: 0, text: '', finalAt: 0, final: '' };
    window.__skipgptKeys = st;
    if (window.__skipgptObs) window.__skipgptObs.disconnect();
    if (!window.__skipgptObs) {
      window.addEventListener('keydown', () => { const k = window.__skipgptKeys; k.lastKey = performance.now(); k.pressed = k.armed; }, { capture: true });
    }
    const obs = new MutationObserver(() => {
      const s = window.__skipgptKeys;
      if (!s.pressed) return;                // only changes after the last keydown
      const g = document.querySelectorAll(sel);
      if (!g.length) return;
      const text = [...g].map((e) => e.textContent).join('\n');
      if (!s.ghostAt) { s.ghostAt = performance.now(); s.text = text; }
      if (text !== s.final) { s.finalAt = performance.now(); s.final = text; }
    });
    obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    window.__skipgptObs = obs;
  }, GHOST);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (i === keys.length - 1) await page.evaluate(() => { window.__skipgptKeys.armed = true; });
    if (k.key) await page.keyboard.press(k.key); else await page.keyboard.type(k.text);
    if (i < keys.length - 1) await new Promise((r) => setTimeout(r, gapMs));
  }
  const end = Date.now() + waitMs;
  let st;
  for (;;) {
    st = await page.evaluate(() => window.__skipgptKeys);
    if (st.ghostAt || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (st.ghostAt && settleMs > 0) {
    await new Promise((r) => setTimeout(r, settleMs));
    st = await page.evaluate(() => window.__skipgptKeys);
  }
  await page.evaluate(() => window.__skipgptObs.disconnect());
  return { ms: st.ghostAt ? st.ghostAt - st.lastKey : null, ghost: st.text, finalMs: st.ghostAt ? st.finalAt - st.lastKey : null, final: st.final };
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
    const keys = t.match(/SKIPGPT_KEYS ([\w-]+) (\S+)/);
    if (keys) {
      const [, name, b64] = keys;
      const result = await typeAndTimeGhost(page, JSON.parse(Buffer.from(b64, 'base64').toString('utf8'))).catch((e) => ({ error: e.message }));
      fs.writeFileSync(path.join(shots, `${name}.json`), JSON.stringify(result));
      fs.writeFileSync(path.join(shots, `${name}.done`), '');
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
