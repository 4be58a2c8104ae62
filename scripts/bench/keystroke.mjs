// Keystroke → ghost text in the real editor: the time a user waits. Runs test/e2e/bench/keystroke.ts inside the
// offline VS Code of the e2e harness (test/e2e/run.sh starts the server, test/e2e/driver.js types in Chromium) with
// default settings except the model folder, on a standard-library Python file copied into the test workspace.
// Prints p50/p95/min/max of last keydown → ghost text in the editor DOM, misses (none within --wait ms), what served
// each shown suggestion (model / cache) and the engine's own time for the model ones, with the CPU and load average;
// and when the ghost text stopped changing (text shown early, completed in the background) within 1.5 s after.
// A benchmark, not a test. Usage:
//   node scripts/bench/keystroke.mjs [--n 30] [--file /usr/lib/python3.11/colorsys.py] [--model DIR] [--wait 3000]
//     [--settings '"skipgpt.debounceMs": 60'] [--json out.json] [--no-build]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const argv = process.argv.slice(2);
const arg = (name, d) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : d; };
const pyFile = arg('file', ['3.13', '3.12', '3.11'].map((v) => `/usr/lib/python${v}/colorsys.py`).find(existsSync));
const model = path.resolve(ROOT, arg('model', 'models/smollm2-135m-skip25-int8'));
const n = Number(arg('n', 30)), waitMs = Number(arg('wait', 3000));
if (!pyFile || !existsSync(pyFile)) throw new Error('no benchmark file: pass --file <a 150-200 line Python file>');
if (!existsSync(path.join(model, 'manifest.json'))) throw new Error(`no model at ${model} (bash scripts/setup.sh builds it)`);

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN; };
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const load0 = os.loadavg().map((x) => x.toFixed(2)).join(' ');

// `npm run build` rewrites dist/ and out/: hold the build lock while the editor loads and runs them.
const env = { ...process.env, ORT_DISABLE_TELEMETRY: '1', SKIPGPT_E2E_NO_BUILD: '1', SKIPGPT_E2E_NICE: '0',
  SKIPGPT_E2E_TESTS: path.join(ROOT, 'out/test/e2e/bench/keystroke.js'), SKIPGPT_E2E_COPY: pyFile,
  SKIPGPT_E2E_SETTINGS: [`"skipgpt.modelFolder": ${JSON.stringify(model)}`, arg('settings')].filter(Boolean).join(', '),
  SKIPGPT_BENCH_FILE: path.basename(pyFile), SKIPGPT_BENCH_N: String(n), SKIPGPT_BENCH_WAIT_MS: String(waitMs) };
const script = `${argv.includes('--no-build') ? '' : 'node scripts/build.mjs >/dev/null && '}bash test/e2e/run.sh`;
const rows = [];
const t0 = Date.now();
const child = spawn('flock', ['/tmp/skipgpt-build.lock', 'bash', '-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
let buf = '';
child.stdout.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const m = line.match(/SKIPGPT_BENCH (\{.*\})/);
    if (m) { const r = JSON.parse(m[1]); rows.push(r); console.log(`  #${r.k} line ${r.line} typed ${JSON.stringify(r.typed)}: ${r.ms === null ? 'MISS' : `${Math.round(r.ms)} ms${r.finalMs > r.ms + 1 ? ` → ${Math.round(r.finalMs)} ms` : ''}`} (${r.source ?? '-'}${r.modelMs !== undefined ? `, engine ${Math.round(r.modelMs)} ms, ${r.lines} lines` : ''})`); }
    else if (/^\s*\[host\] (model |\d+ passed)|run\.sh:|driver failed/.test(line)) console.log(line.trim());
  }
});
const rc = await new Promise((r) => child.on('close', r));
const load1 = os.loadavg().map((x) => x.toFixed(2)).join(' ');

const hit = rows.filter((r) => r.ms !== null).map((r) => r.ms);
const fromModel = rows.filter((r) => r.ms !== null && r.source === 'model' && r.modelMs !== undefined);
const nodeVersion = process.version;
const summary = {
  file: `${pyFile} (${readFileSync(pyFile, 'utf8').split('\n').length - 1} lines)`, model, positions: rows.length, misses: rows.length - hit.length,
  p50: pct(hit, 50), p95: pct(hit, 95), min: Math.min(...hit), max: Math.max(...hit),
  fromCache: rows.filter((r) => r.ms !== null && r.source === 'cache').length, fromModel: fromModel.length,
  engineP50: pct(fromModel.map((r) => r.modelMs), 50), shownP50ModelOnly: pct(fromModel.map((r) => r.ms), 50),
  multiLine: rows.filter((r) => (r.lines ?? 0) > 1).length,
  // Text shown early (a line cut at the time cap, a block's first line) grows when the rest is ready: its last change.
  finalP50: pct(rows.filter((r) => r.finalMs != null).map((r) => r.finalMs), 50),
  finalP95: pct(rows.filter((r) => r.finalMs != null).map((r) => r.finalMs), 95),
  grew: rows.filter((r) => r.finalMs != null && r.finalMs > r.ms + 1).length,
  cpu, cores: os.cpus().length, loadStart: load0, loadEnd: load1, node: nodeVersion, seconds: Math.round((Date.now() - t0) / 1000),
};
const f = (x) => (Number.isFinite(x) ? Math.round(x) : '-');
console.log(`\nkeystroke → ghost text, ${summary.positions} positions in ${summary.file}`);
console.log(`  p50 ${f(summary.p50)} ms · p95 ${f(summary.p95)} ms · min ${f(summary.min)} · max ${f(summary.max)} · misses ${summary.misses} (none within ${waitMs} ms)`);
console.log(`  ghost text stopped changing (shown text completed): p50 ${f(summary.finalP50)} ms · p95 ${f(summary.finalP95)} ms; grew after first shown: ${summary.grew}`);
console.log(`  served from cache ${summary.fromCache}, by the model ${summary.fromModel} (shown p50 ${f(summary.shownP50ModelOnly)} ms, engine's own time p50 ${f(summary.engineP50)} ms); multi-line ${summary.multiLine}`);
console.log(`  ${cpu} × ${summary.cores}, load average ${load0} at start, ${load1} at end; ${nodeVersion}; ${summary.seconds} s`);
const out = arg('json');
if (out) writeFileSync(out, JSON.stringify({ summary, rows }, null, 1));
if (rc !== 0) console.log(`(the harness exited with ${rc})`);
process.exit(rows.length ? 0 : 1);
