// Benchmark: decode tok/s of routed thresholds ÷ dense (threshold 0 on the same file), for one or more models,
// side by side in one run (every repeat visits every model × threshold × prompt, interleaved, so machine load
// drifts hit all alike), against the ideal byte-model speed-up from the measured skip fractions.
// Usage: npm run bench:routing -- --model models/smollm2-135m-skip25 --model models/smollm2-135m-skip40
//        [--thresholds 0,0.5,0.7] [--threads 2] [--tokens 32] [--repeat 3] [--ep cpu|webgpu|...]
import { args, engine, idealSpeedup, machine, median, PROMPTS, skipFractions } from './common.mjs';

const a = args({ model: [], thresholds: '0,0.3,0.5,0.7', threads: '2', tokens: '32', repeat: '3', ep: 'cpu' });
if (a.model.length === 0) a.model = ['models/smollm2-135m-skip25', 'models/smollm2-135m-skip40'];
const thresholds = a.thresholds.split(',').map(Number);
if (!thresholds.includes(0)) thresholds.unshift(0);
const threads = Number(a.threads), tokens = Number(a.tokens), repeat = Number(a.repeat);
const { ModelRunner, Generator } = engine();

const models = [];
for (const dir of a.model) {
  const runner = await ModelRunner.load(dir, { executionProvider: a.ep, threads });
  if (runner.executionProvider !== a.ep) throw new Error(`${a.ep} unavailable: ${JSON.stringify(runner.passedOver)}`);
  models.push({ dir, runner, gen: new Generator(runner) });
}
console.log(`# routed ÷ dense decode speed (${a.ep})\n\nmachine: ${machine(threads, a.ep)}\ncommand: node scripts/bench/routing.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`prompts: ${PROMPTS.length} code prompts, ${tokens} greedy tokens each, ${repeat} repeats, interleaved\n`);

const rates = new Map(); // key model|threshold → tok/s samples
const traces = new Map(); // key → decode-step routing traces
const key = (m, t) => `${m.dir}|${t}`;
for (let r = 0; r < repeat; r++) {
  for (const m of models) {
    for (const t of thresholds) {
      for (const prompt of PROMPTS) {
        m.gen.reset();
        const res = await m.gen.complete({ prompt, maxTokens: tokens, threshold: t, stop: [] });
        if (res.tokens.length < 2) continue; // EOS at once: no decode step to time
        (rates.get(key(m, t)) ?? rates.set(key(m, t), []).get(key(m, t))).push(res.timings.decodeTokPerS);
        // tokens[0] came from prefill; tokens[1..] each from one decode step, whose routing they carry.
        (traces.get(key(m, t)) ?? traces.set(key(m, t), []).get(key(m, t))).push(...res.tokens.slice(1));
      }
    }
  }
  process.stderr.write(`repeat ${r + 1}/${repeat} done\n`);
}

console.log('| model | threshold | attn skipped | MLP skipped | decode tok/s (median) | ÷ dense | ideal (bytes) | measured ÷ ideal |');
console.log('|---|---|---|---|---|---|---|---|');
const rows = [];
for (const m of models) {
  const dense = median(rates.get(key(m, 0)) ?? []);
  for (const t of thresholds) {
    const rate = median(rates.get(key(m, t)) ?? []);
    const s = skipFractions(traces.get(key(m, t)) ?? []);
    const ideal = idealSpeedup(m.runner.manifest.dims, s.attn, s.mlp);
    const ratio = rate / dense;
    rows.push({ model: m.dir, threshold: t, skipAttn: s.attn, skipMlp: s.mlp, tokPerS: rate, ratio, ideal });
    console.log(`| ${m.runner.manifest.name} | ${t} | ${(100 * s.attn).toFixed(1)}% | ${(100 * s.mlp).toFixed(1)}% | ` +
      `${rate.toFixed(1)} | ${ratio.toFixed(2)}× | ${ideal.toFixed(2)}× | ${(ratio / ideal).toFixed(2)} |`);
  }
}
console.log(`\njson: ${JSON.stringify(rows)}`);
for (const m of models) await m.runner.dispose();
