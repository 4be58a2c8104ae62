// Benchmark: prompt-lookup speculative decoding (request.draftTokens) against plain greedy decoding, side by side.
// 1. The price of a drafted row: one forward step of 1..8 new tokens after a ~1,000-token context (ratio to 1 row).
// 2. Completions at prompts cut from this repository's own source files (Python and TypeScript, ~1,000 tokens of
//    context each): plain and drafted runs of the same request alternated; decode time ratio drafted ÷ plain (median
//    over prompts), share of drafted tokens accepted, and how many completions came out token-identical.
// Usage: node scripts/bench/drafts.mjs [--model DIR] [--threads 2] [--draft 2 --draft 4] [--tokens 24] [--threshold T]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { args, engine, machine, median, percentile, root } from './common.mjs';

const a = args({ model: 'models/smollm2-135m-skip25-int8', threads: '2', draft: [], tokens: '24', threshold: '' });
const drafts = (Array.isArray(a.draft) && a.draft.length ? a.draft : ['2', '4']).map(Number);
const threads = Number(a.threads), maxTokens = Number(a.tokens);
const { ModelRunner, Generator, TextTokenizer } = engine();
const runner = await ModelRunner.load(a.model, { executionProvider: 'cpu', threads });
const tok = TextTokenizer.fromFile(`${a.model}/tokenizer.json`);
const threshold = a.threshold === '' ? runner.manifest.router.threshold_default : Number(a.threshold);
const ctx = Math.min(1000, runner.manifest.dims.max_positions - maxTokens - 16);  // context tokens (tiny models: fewer)

console.log(`# prompt-lookup drafts vs plain decoding\n\nmachine: ${machine(threads)}`);
console.log(`command: node scripts/bench/drafts.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`model ${runner.manifest.name ?? a.model}, threshold ${threshold}, ${maxTokens} tokens per completion\n`);

// ---- 1. step time by number of rows ----
const files = ['training/skipgpt/model.py', 'training/skipgpt/evaluate.py', 'training/skipgpt/train.py',
  'extension/engine/generate.ts', 'extension/completion/pipeline.ts', 'extension/host/engineHost.ts'];
const context = tok.encode(readFileSync(join(root, files[0]), 'utf8')).slice(0, ctx);
const gen0 = new Generator(runner, 64);
await gen0.complete({ ids: context, threshold, maxTokens: 1 });
const base = runner.cache.length, rows = [1, 2, 3, 5, 8], ms = Object.fromEntries(rows.map((s) => [s, []]));
for (let rep = 0; rep < 9; rep++) {
  for (const s of rows) {
    runner.cache.truncate(base);
    ms[s].push((await runner.step(context.slice(200, 200 + s), threshold, s)).ms);
  }
}
runner.cache.truncate(base);
console.log('| new rows in the step | ms (median of 9) | ÷ 1 row |\n|---|---|---|');
for (const s of rows) console.log(`| ${s} | ${median(ms[s]).toFixed(1)} | ${(median(ms[s]) / median(ms[1])).toFixed(2)} |`);

// ---- 2. completions ----
const prompts = [];
for (const f of files) {
  const lines = readFileSync(join(root, f), 'utf8').split('\n');
  for (const frac of [0.4, 0.6, 0.8]) {
    const ids = tok.encode(lines.slice(0, Math.floor(lines.length * frac)).join('\n') + '\n');
    prompts.push({ file: f, ids: ids.slice(Math.max(0, ids.length - ctx)) });
  }
}
const gen = new Generator(runner, 64);
// Every run after the first of a prompt reuses its cached context (all but the last token), as in the editor.
const run = (ids, draftTokens) => gen.complete({ ids, threshold, maxTokens, draftTokens });
const out = Object.fromEntries(drafts.map((k) => [k, { ratio: [], drafted: 0, accepted: 0, same: 0 }]));
for (const p of prompts) {
  await run(p.ids, 0);
  for (const k of drafts) {
    const plain = await run(p.ids, 0), spec = await run(p.ids, k);
    const o = out[k];
    o.ratio.push(spec.timings.decodeMs / plain.timings.decodeMs);
    o.drafted += spec.timings.draftedTokens; o.accepted += spec.timings.acceptedTokens;
    if (spec.tokens.map((t) => t.id).join() === plain.tokens.map((t) => t.id).join()) o.same++;
  }
}
console.log(`\n${prompts.length} prompts (3 cuts of each of ${files.join(', ')}), plain and drafted runs alternated:\n`);
console.log('| draftTokens | decode ms drafted ÷ plain (median, p25–p75) | drafted tokens accepted | completions token-identical |');
console.log('|---|---|---|---|');
for (const k of drafts) {
  const o = out[k];
  console.log(`| ${k} | ${median(o.ratio).toFixed(2)} (${percentile(o.ratio, 25).toFixed(2)}–${percentile(o.ratio, 75).toFixed(2)}) | ` +
    `${o.accepted} / ${o.drafted} (${((100 * o.accepted) / Math.max(1, o.drafted)).toFixed(0)}%) | ${o.same} / ${prompts.length} |`);
}
await runner.dispose();
