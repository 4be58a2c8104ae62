// Check of the sparsity dial: does a requested skip rate (request.skipRate, mapped through the model folder's
// calibration by engine/sparsity.ts) give that skip rate on text the calibration never saw? The calibration is
// measured on CPython standard-library files (training/skipgpt/export/calibrate.py); this check prompts with this
// repository's own TypeScript and Python sources instead: for each file, the cursor sits at the line start nearest
// the middle and the prompt is the ~1,600 characters before it (what an editor request sends). Every target runs
// every prompt (prefill, then greedy decode); prints target vs realised fraction of skipped sublayers, prefill and
// decode apart, with the per-prompt range of the prefill rate, and decode tokens/s at each target beside dense
// (threshold 0) in the same run — the speed column of the quality curve (training/skipgpt/curve_report.py).
// Usage: node scripts/bench/sparsity-dial.mjs [--model DIR] [--targets 0.1,0.15,0.2,0.25,0.3,0.4] [--tokens 32]
//        [--threads 2] [--chars 1600] [--json FILE]   (needs `npm run build`: it runs the engine from out/)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { args, engine, machine, root, skipFractions } from './common.mjs';

const a = args({ model: 'models/smollm2-135m-skip25-int8', targets: '0.1,0.15,0.2,0.25,0.3,0.4', tokens: '32',
  threads: '2', chars: '1600', json: '' });
const targets = a.targets.split(',').map(Number), maxTokens = Number(a.tokens), chars = Number(a.chars);
const FILES = ['extension/engine/generate.ts', 'extension/engine/runner.ts', 'extension/engine/kvcache.ts',
  'extension/engine/tokenizer.ts', 'training/skipgpt/model.py', 'training/skipgpt/train_loop.py',
  'training/skipgpt/corpus.py', 'training/skipgpt/export/graph_model.py'];

/** The ~`chars` characters before the line start nearest the middle of the file, from a line start. */
function promptOf(text) {
  const cursor = text.lastIndexOf('\n', text.length >> 1) + 1;
  const from = text.lastIndexOf('\n', Math.max(0, cursor - chars)) + 1;
  return text.slice(from, cursor);
}

const { ModelRunner, Generator } = engine();
const sparsity = createRequire(import.meta.url)(join(root, 'out', 'extension', 'engine', 'sparsity.js'));
const runner = await ModelRunner.load(a.model, { executionProvider: 'cpu', threads: Number(a.threads) });
const gen = new Generator(runner);
const cal = runner.manifest.router.calibration;
if (!cal) throw new Error(sparsity.NO_CALIBRATION);
const prompts = FILES.map((f) => ({ file: f, prompt: promptOf(readFileSync(join(root, f), 'utf8')) }));
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

console.log(`# The sparsity dial: requested vs realised skip rate (${runner.manifest.name})\n`);
console.log(`machine: ${machine(Number(a.threads), 'cpu')}`);
console.log(`command: node scripts/bench/sparsity-dial.mjs ${process.argv.slice(2).join(' ')} (repository at ${commit})`);
console.log(`calibration: ${cal.tokens} tokens per threshold, ${cal.points.length} thresholds; ${cal.source}`);
console.log(`check text: ${prompts.length} prompts of ~${chars} characters ending mid-file in ${FILES.join(', ')}; ` +
  `${maxTokens} greedy tokens each\n`);

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const signed = (x) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(1)}`;
const both = (s) => (s.attn + s.mlp) / 2;
console.log('| target | threshold | prefill skipped (attn / MLP) | prefill − target | prefill range over prompts | ' +
  'decode skipped (attn / MLP) | decode − target | decode tok/s |');
console.log('|---|---|---|---|---|---|---|---|');
const rows = [];
/** Decode tokens/s over all prompts: tokens ÷ time of the decode steps only (prefill excluded). */
const rate = (ts) => (1000 * ts.reduce((x, t) => x + t.decodeTokens, 0)) / ts.reduce((x, t) => x + t.decodeMs, 0);
const maps = targets.map((t) => sparsity.thresholdForSkipRate(runner.manifest, t));
gen.reset();
await gen.complete({ prompt: prompts[0].prompt, threshold: 0, maxTokens, stop: [] });  // warm-up, not counted
// Prompts outer, settings inner (dense = threshold 0 first): every setting sees the machine in the same state, so
// the speed ratios survive load that changes during the run.
const acc = [{ times: [] }, ...targets.map(() => ({ pre: [], dec: [], perPrompt: [], times: [] }))];
for (const { prompt } of prompts) {
  gen.reset();
  acc[0].times.push((await gen.complete({ prompt, threshold: 0, maxTokens, stop: [] })).timings);
  for (const [i, target] of targets.entries()) {
    gen.reset();
    const r = await gen.complete({ prompt, skipRate: target, maxTokens, stop: [], tracePrompt: true });
    if (r.threshold !== maps[i].threshold) throw new Error(`request ran at ${r.threshold}, mapping said ${maps[i].threshold}`);
    const c = acc[i + 1];
    c.times.push(r.timings);
    c.pre.push(...r.prompt);
    c.perPrompt.push(both(skipFractions(r.prompt)));
    c.dec.push(...r.tokens.slice(1));  // tokens[0] came from the prefill's last row; the others from decode steps
  }
}
const denseTokS = rate(acc[0].times);
console.log(`| 0 (dense) | 0 | 0% | | | 0% | | ${denseTokS.toFixed(1)} |`);
for (const [i, target] of targets.entries()) {
  const map = maps[i], c = acc[i + 1];
  const p = skipFractions(c.pre), d = skipFractions(c.dec);
  const row = { target, threshold: map.threshold, clamped: map.clamped, prefill: both(p), prefillAttn: p.attn,
    prefillMlp: p.mlp, decode: both(d), decodeAttn: d.attn, decodeMlp: d.mlp, prefillTokens: c.pre.length,
    decodeTokens: c.dec.length, min: Math.min(...c.perPrompt), max: Math.max(...c.perPrompt), decode_tok_s: rate(c.times) };
  rows.push(row);
  console.log(`| ${pct(target)}${map.clamped ? ` (${map.clamped} the calibrated ${pct(map.range[0])}–${pct(map.range[1])})` : ''} | ` +
    `${row.threshold.toPrecision(3)} | ${pct(row.prefill)} (${pct(p.attn)} / ${pct(p.mlp)}) | ${signed(row.prefill - target)} | ` +
    `${pct(row.min)}–${pct(row.max)} | ${pct(row.decode)} (${pct(d.attn)} / ${pct(d.mlp)}) | ${signed(row.decode - target)} | ` +
    `${row.decode_tok_s.toFixed(1)} (${(row.decode_tok_s / denseTokS).toFixed(2)}× dense) |`);
}
const n = rows[0];
console.log(`\nper target: ${n.prefillTokens} prefill tokens, ${n.decodeTokens} decode tokens (× ${runner.layers} layers × 2 sublayers)`);
console.log(`json: ${JSON.stringify(rows)}`);
if (a.json) {
  writeFileSync(a.json, JSON.stringify({ command: `node scripts/bench/sparsity-dial.mjs ${process.argv.slice(2).join(' ')} ` +
    `(repository at ${commit})`, machine: machine(Number(a.threads), 'cpu'), model: runner.manifest.name,
  dense_decode_tok_s: denseTokS, targets: rows }, null, 1));
}
await runner.dispose();
