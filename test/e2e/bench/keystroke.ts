// Host side of the keystroke → ghost text benchmark (scripts/bench/keystroke.mjs starts it through test/e2e/run.sh;
// not part of the suite, nothing here asserts). For each position inside a function body of the benchmark file it
// removes the real next line, puts the cursor at the end of the line above, and asks the driver (SKIPGPT_KEYS) to do
// what a user does: End, Enter, the first 3–6 characters of that line ~60 ms apart; the driver times last keydown →
// ghost text in the DOM (and until it stops growing). From the test observer it adds what served the shown suggestion (model or cache) and the
// engine's own time for it. One `SKIPGPT_BENCH {json}` line per position, then the `N passed, N failed` line.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ARTIFACTS, getApi, openAt, revert, sleep, waitFor } from '../suite/helpers';

const FILE = process.env.SKIPGPT_BENCH_FILE ?? 'colorsys.py';
const N = Number(process.env.SKIPGPT_BENCH_N ?? 30);
const GAP_MS = Number(process.env.SKIPGPT_BENCH_GAP_MS ?? 60);
const WAIT_MS = Number(process.env.SKIPGPT_BENCH_WAIT_MS ?? 3000);
/** How long to keep watching a shown suggestion grow (text shown early and completed in the background). */
const SETTLE_MS = Number(process.env.SKIPGPT_BENCH_SETTLE_MS ?? 1500);

/** Lines L (0-based) whose next line is code inside a function body: not blank, not a comment, not in a docstring. */
export function positions(lines: string[], n: number): number[] {
  const ok: number[] = [];
  let inDef = false, inDoc = false;
  for (let i = 0; i + 1 < lines.length; i++) {
    const l = lines[i];
    if (/^\S/.test(l)) inDef = /^(def|class|async def)\b/.test(l);
    if ((l.match(/"""|'''/g) ?? []).length % 2 === 1) inDoc = !inDoc;
    const next = lines[i + 1];
    const body = next.trim();
    if (!inDef || inDoc || l.trim() === '' || body.length < 6 || body.startsWith('#') || /^("""|''')/.test(body)) continue;
    if (!/^\s/.test(next) || /"""|'''/.test(next)) continue;
    ok.push(i);
  }
  if (ok.length <= n) return ok;
  return Array.from({ length: n }, (_, k) => ok[Math.floor((k * ok.length) / n)]);
}

interface Typed { ms: number | null; ghost: string; finalMs: number | null; final: string; error?: string }
async function driverTypes(name: string, keys: { key?: string; text?: string }[]): Promise<Typed> {
  const done = path.join(ARTIFACTS, `${name}.done`);
  rmSync(done, { force: true });
  console.log(`SKIPGPT_KEYS ${name} ${Buffer.from(JSON.stringify({ keys, gapMs: GAP_MS, waitMs: WAIT_MS, settleMs: SETTLE_MS })).toString('base64')}`);
  await waitFor(() => existsSync(done), 60000, `keystrokes ${name}`, 20);
  return JSON.parse(readFileSync(path.join(ARTIFACTS, `${name}.json`), 'utf8'));
}

/** No suggestion request for `ms`: what a user reading the code leaves behind (the primer has run). */
async function quiet(ms: number): Promise<void> {
  const api = await getApi();
  await waitFor(async () => { const c = api.inlineCalls, p = api.primes.length; await sleep(ms); return api.inlineCalls === c && api.primes.length === p; },
    60000, 'a quiet editor', 10);
}

export async function run(): Promise<void> {
  const api = await getApi();
  await waitFor(() => api.host.ensureLoaded(), 300000, 'the model to load');
  console.log(`model ${api.host.info()?.name} from ${api.host.modelDir()} on ${api.host.status().tooltip.replace(/\s+/g, ' ')}`);
  const uri = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, FILE);
  const lines = (await vscode.workspace.openTextDocument(uri)).getText().split('\n');
  const at = positions(lines, N);
  let done = 0;
  for (const [k, line] of at.entries()) {
    const editor = await openAt(FILE, line);
    const next = lines[line + 1];
    await editor.edit((e) => e.delete(new vscode.Range(line, lines[line].length, line + 1, next.length)));
    editor.selection = new vscode.Selection(line, lines[line].length, line, lines[line].length);
    await quiet(800);
    const typed = next.trim().slice(0, 3 + (k % 4));
    const h0 = api.inline.length;
    const r = await driverTypes(`keys-${k}`, [{ key: 'End' }, { key: 'Enter' }, ...[...typed].map((text) => ({ text }))]);
    await sleep(r.ms === null ? 300 : 0);
    const version = editor.document.version;
    const rec = api.inline.slice(h0).find((x) => x.version === version && x.shown);   // what made the first ghost text
    const t = rec?.outcome.result?.timings;
    console.log(`SKIPGPT_BENCH ${JSON.stringify({ k, line: line + 1, typed, ms: r.ms, error: r.error, ghost: r.ghost.slice(0, 80),
      finalMs: r.finalMs, final: r.final.slice(0, 120),
      source: rec?.outcome.source, lines: rec?.outcome.text?.split('\n').length, tokens: rec?.outcome.result?.tokens.length,
      modelMs: t?.totalMs ?? rec?.outcome.engineMs, prefill: t?.prefillTokens, requests: api.inline.length - h0 })}`);
    await revert(editor);
    done += 1;
  }
  console.log(`${done === at.length ? 1 : 0} passed, ${done === at.length ? 0 : 1} failed (keystroke benchmark, ${done} positions)`);
}
