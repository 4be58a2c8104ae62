// Benchmark: token healing (request.heal) on next-line tasks whose prompts end exactly where a user's cursor is.
// Tasks come from held-out code: the files the toolkit corpus (training/skipgpt/corpus.py) puts in its TEST split
// (content-hash bucket < 10 of 1000), Python from the CPython standard library and TS/JS from node_modules, so the
// router/LoRA tuning never saw them. For each target line (indented, starting with a word), three cursor kinds:
//   col0   the prompt ends with the newline before the line (cursor at column 0),
//   indent the prompt ends after the line's indentation (the editor's auto-indent),
//   word   the prompt ends inside the line's first word.
// The expected text is the rest of the target line. Each task runs dense (threshold 0) and routed (the manifest's
// default), raw and healed; prints exact match and edit similarity of the completion's first line, and the healed −
// raw difference with a paired bootstrap 95% interval.
// Mid-word (issue 14's goal): does the suggestion continue the word (its first character is a word character), over
// all `word` tasks and over those where the dense model's own healed line at the `indent` cursor starts with the
// typed part of the word (the cases where the model itself would have written that word).
// Usage: node scripts/bench/healing.mjs [--model DIR] [--tasks 60] [--threads 2] [--tokens 24] [--seed 1] [--context 800]
//        [--kinds col0,indent,word]
// (HEAL_DEBUG=1 prints every completion with its prefix-reuse timings on stderr.)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { args, engine, machine, root } from './common.mjs';

const a = args({ model: 'models/smollm2-135m-skip25-int8', tasks: '60', threads: '2', tokens: '24', seed: '1', context: '800', kinds: 'col0,indent,word',
  stdlib: '', 'node-modules': join(root, 'node_modules') });
const nTasks = Number(a.tasks), threads = Number(a.threads), maxTokens = Number(a.tokens);

// ---- held-out files: the corpus' test split, recomputed from its content hash ----
const MAX_FILE_BYTES = 1_000_000, MAX_LINE_CHARS = 1000, MAX_BUNDLE_BYTES = 200_000;
function contentId(text) {
  return createHash('sha256').update(text.replace(/\s+/g, ' ').trim(), 'utf8').digest('hex');
}
const isTestSplit = (text) => parseInt(contentId(text).slice(0, 8), 16) % 1000 < 10;
function* walk(dir) {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries.sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p); else if (e.isFile()) yield p;
  }
}
function heldOut(dir, accept) {
  const out = [];
  for (const p of walk(dir)) {
    if (!accept(p)) continue;
    const size = statSync(p).size;
    if (size === 0 || size > MAX_FILE_BYTES) continue;
    const text = readFileSync(p, 'utf8');
    if (text.includes('\uFFFD') || text.includes('\0') || text.split('\n').some((l) => l.length > MAX_LINE_CHARS)) continue;
    if (isTestSplit(text)) out.push({ path: p, text });
  }
  return out;
}
const stdlib = a.stdlib || execFileSync(join(root, '.venv', 'bin', 'python'), ['-c',
  "import sys, sysconfig; print(sysconfig.get_paths(vars={'base': sys.base_prefix, 'platbase': sys.base_prefix})['stdlib'])"],
{ encoding: 'utf8' }).trim();
const py = heldOut(stdlib, (p) => p.endsWith('.py') && !/\/(site|dist)-packages\//.test(p));
const js = existsSync(a['node-modules']) ? heldOut(a['node-modules'], (p) => /\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(p) &&
  !/\.(min\.js|min\.mjs|bundle\.js|d\.ts)$/.test(p) &&
  !(statSync(p).size > MAX_BUNDLE_BYTES && /\/(dist|build|bundles?|umd|browser)\//.test(p))) : [];

// ---- tasks: indented lines at the editor's auto-indent, starting with a word ----
function rng(seed) {  // mulberry32
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
}
const rand = rng(Number(a.seed));
const indentOf = (l) => /^ */.exec(l)[0].length;
function candidates(file) {
  const lines = file.text.split('\n'), out = [];
  for (let i = 8; i < lines.length; i++) {
    const line = lines[i], prev = lines[i - 1];
    const ind = indentOf(line), word = /^ *([A-Za-z_]\w{2,})/.exec(line);
    if (ind === 0 || !word || line.length > 100 || line.includes('\t') || prev.trim() === '' || prev.includes('\t')) continue;
    // Where an editor's auto-indent puts the cursor: the previous line's indentation, or deeper after an opener.
    if (!(ind === indentOf(prev) || (/[:{(\[]\s*$/.test(prev) && ind > indentOf(prev)))) continue;
    out.push({ i, word: word[1] });
  }
  return out;
}
function pickTasks(files, n) {
  const tasks = [];
  const pool = files.map((f) => ({ f, c: candidates(f) })).filter((x) => x.c.length > 0);
  for (let round = 0; tasks.length < n && pool.some((x) => x.c.length); round++) {
    for (const x of pool) {
      if (tasks.length >= n || x.c.length === 0) continue;
      const { i, word } = x.c.splice(Math.floor(rand() * x.c.length), 1)[0];
      const lines = x.f.text.split('\n');
      // Context: up to 40 lines / --context characters before the line, headed like the editor's prompt.
      let start = Math.max(0, i - 40);
      while (lines.slice(start, i).join('\n').length > Number(a.context) && start < i - 1) start++;
      const header = `<filename>${relative(root, x.f.path).replace(/^(\.\.\/)+/, '')}\n`;
      const before = header + lines.slice(start, i).join('\n') + '\n';
      const line = lines[i].trimEnd(), ind = indentOf(line);
      const cut = 1 + Math.floor(rand() * (word.length - 1));      // inside the word: 1..len-1 characters typed
      tasks.push({ file: x.f.path, line: i + 1, kinds: {
        col0: { prompt: before, expected: line },
        indent: { prompt: before + ' '.repeat(ind), expected: line.slice(ind) },
        word: { prompt: before + line.slice(0, ind + cut), expected: line.slice(ind + cut) },
      } });
    }
  }
  return tasks;
}
const nPy = Math.min(py.length ? Math.ceil(nTasks * (js.length ? 0.5 : 1)) : 0, nTasks);
const tasks = [...pickTasks(py, nPy), ...pickTasks(js, nTasks - nPy)];
const fromPy = tasks.filter((t) => t.file.endsWith('.py')).length;

// ---- runs ----
const { ModelRunner, Generator } = engine();
const runner = await ModelRunner.load(a.model, { executionProvider: 'cpu', threads });
const gen = new Generator(runner, 64);
const routed = runner.manifest.router.threshold_default;
const thresholds = [['dense', 0], ['routed', routed]];
const KINDS = a.kinds.split(',');

function editSimilarity(x, y) {
  if (x === y) return 1;
  const m = x.length, n = y.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[n] / Math.max(m, n);
}
const firstLine = (t) => t.split('\n')[0].trimEnd();

console.log(`# token healing on next-line tasks\n\nmachine: ${machine(threads)}`);
console.log(`command: node scripts/bench/healing.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`model ${runner.manifest.name}, ${tasks.length} tasks (${fromPy} Python from the stdlib, ${tasks.length - fromPy} TS/JS ` +
  `from node_modules; corpus test split: ${py.length} + ${js.length} files), up to ${maxTokens} tokens, greedy, stop at newline\n`);

const scores = {};   // scores[thr][kind][heal] = { em: [], es: [] }
const texts = {};    // texts[thr][kind][heal][task] = completion text (the mid-word table)
const started = performance.now();
for (const [name, thr] of thresholds) {
  scores[name] = Object.fromEntries(KINDS.map((k) => [k, { raw: { em: [], es: [] }, heal: { em: [], es: [] } }]));
  texts[name] = Object.fromEntries(KINDS.map((k) => [k, { raw: [], heal: [] }]));
  gen.reset();
  for (const t of tasks) {
    // The three prompts of a line share their text up to the cursor: prefix reuse prefills the context once.
    for (const kind of KINDS) {
      const { prompt, expected } = t.kinds[kind];
      for (const mode of ['raw', 'heal']) {
        const r = await gen.complete({ prompt, heal: mode === 'heal', threshold: thr, maxTokens, stop: ['\n'] });
        if (process.env.HEAL_DEBUG) {
          const tm = r.timings;
          console.error(name, kind, mode, `reused ${tm.reusedTokens} prefilled ${tm.prefillTokens} decoded ${tm.decodeTokens}`, JSON.stringify(r.text));
        }
        const got = firstLine(r.text), want = expected.trimEnd();
        scores[name][kind][mode].em.push(got === want ? 1 : 0);
        scores[name][kind][mode].es.push(editSimilarity(got, want));
        texts[name][kind][mode].push(r.text);
      }
    }
  }
}
const seconds = (performance.now() - started) / 1000;

// ---- paired bootstrap of the mean difference heal − raw ----
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
function bootstrap(diff, reps = 2000) {
  const r = rng(12345), n = diff.length, means = [];
  for (let k = 0; k < reps; k++) { let s = 0; for (let i = 0; i < n; i++) s += diff[Math.floor(r() * n)]; means.push(s / n); }
  means.sort((x, y) => x - y);
  return [means[Math.floor(0.025 * reps)], means[Math.floor(0.975 * reps)]];
}
const pct = (x) => (100 * x).toFixed(1);
const delta = (h, r) => {
  const d = h.map((x, i) => x - r[i]), [lo, hi] = bootstrap(d);
  return `${mean(d) >= 0 ? '+' : ''}${pct(mean(d))} [${pct(lo)}, ${pct(hi)}]`;
};
console.log('| model | cursor | exact raw % | exact healed % | Δ exact (95% CI) | edit sim raw % | edit sim healed % | Δ edit sim (95% CI) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, thr] of thresholds) {
  const rows = [...KINDS.map((k) => [k, scores[name][k]]),
    ['all', { raw: { em: KINDS.flatMap((k) => scores[name][k].raw.em), es: KINDS.flatMap((k) => scores[name][k].raw.es) },
      heal: { em: KINDS.flatMap((k) => scores[name][k].heal.em), es: KINDS.flatMap((k) => scores[name][k].heal.es) } }]];
  for (const [kind, s] of rows) {
    console.log(`| ${name} (t=${thr}) | ${kind} | ${pct(mean(s.raw.em))} | ${pct(mean(s.heal.em))} | ${delta(s.heal.em, s.raw.em)} | ` +
      `${pct(mean(s.raw.es))} | ${pct(mean(s.heal.es))} | ${delta(s.heal.es, s.raw.es)} |`);
  }
}
if (KINDS.includes('word') && KINDS.includes('indent')) {
  const continues = (text) => /^[\p{L}\p{N}_]/u.test(text);
  const typed = tasks.map((t) => t.kinds.word.prompt.slice(t.kinds.indent.prompt.length));
  // Where the dense model would itself write the word: its healed line at the indent cursor starts with the typed part.
  const wanted = tasks.map((_, i) => texts.dense.indent.heal[i].startsWith(typed[i]));
  const share = (xs) => `${pct(mean(xs.map((x) => (x ? 1 : 0))))}% (${xs.filter(Boolean).length}/${xs.length})`;
  console.log('\n| model | mode | mid-word suggestion continues the word: all word tasks | where dense\'s own line has that word |');
  console.log('|---|---|---|---|');
  for (const [name] of thresholds) for (const mode of ['raw', 'heal']) {
    const c = texts[name].word[mode].map(continues);
    console.log(`| ${name} | ${mode} | ${share(c)} | ${share(c.filter((_, i) => wanted[i]))} |`);
  }
}
console.log(`\n${tasks.length * KINDS.length * 2 * thresholds.length} completions in ${seconds.toFixed(0)} s`);
await runner.dispose();
