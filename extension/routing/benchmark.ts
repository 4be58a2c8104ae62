// Dense-vs-routed benchmark on one file: the same prompts (cut from the file at evenly spaced line ends) run dense
// (threshold 0) and routed in alternating order, without KV reuse, and the medians are compared side by side.
// vscode-free; the "SkipGPT: Run Benchmark" command shows the report.
import type { CompletionEngine } from '../completion/engineApi';
import type { ModelSizes } from './stats';
import { firstDivergence, median, summarize } from './stats';

export interface BenchmarkOptions { threshold: number; prompts?: number; maxTokens?: number; maxPromptChars?: number; signal?: AbortSignal }

export interface BenchmarkRow { kind: 'dense' | 'routed'; prompt: number; tokens: number; decodeTokPerS: number; msTotal: number; attnSkip: number; mlpSkip: number; weights?: number }

export interface BenchmarkResult {
  rows: BenchmarkRow[];
  dense: { tokPerS: number; msTotal: number };
  routed: { tokPerS: number; msTotal: number; attnSkip: number; mlpSkip: number; weights?: number };
  speedup: number;
  /** Mean fraction of each routed completion that matched the dense one before they diverged. */
  agreement: number;
  threshold: number;
  maxTokens: number;
}

/** Prompts cut at evenly spaced line ends, each limited to its last `maxChars` characters. */
export function benchmarkPrompts(text: string, count: number, maxChars: number): string[] {
  const ends: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) ends.push(i + 1);
  if (ends.length === 0 || ends[ends.length - 1] !== text.length) ends.push(text.length);
  const usable = ends.filter((e) => e >= Math.min(40, text.length));
  if (usable.length === 0 || text.trim() === '') throw new Error('the file is empty: open a file with some code to benchmark on');
  const picks = new Set<number>();
  for (let k = 1; k <= count; k++) picks.add(usable[Math.min(usable.length - 1, Math.floor((k * usable.length) / (count + 1)))]);
  return [...picks].map((e) => text.slice(Math.max(0, e - maxChars), e));
}

export async function runBenchmark(engine: CompletionEngine, text: string, shape: ModelSizes | undefined, o: BenchmarkOptions): Promise<BenchmarkResult> {
  const maxTokens = o.maxTokens ?? 32;
  const prompts = benchmarkPrompts(text, o.prompts ?? 3, o.maxPromptChars ?? 1500);
  const rows: BenchmarkRow[] = [];
  const agreements: number[] = [];
  for (const [p, prompt] of prompts.entries()) {
    const order: ('dense' | 'routed')[] = p % 2 === 0 ? ['dense', 'routed'] : ['routed', 'dense'];
    const ids: Record<string, { id: number }[]> = {};
    for (const kind of order) {
      if (o.signal?.aborted) throw new Error('benchmark cancelled');
      const threshold = kind === 'dense' ? 0 : o.threshold;
      const t0 = Date.now();
      // Fixed length (no stops) so both runs decode the same number of tokens.
      const r = await engine.complete({ prompt, maxTokens, threshold, temperature: 0, reusePrefix: false }, { signal: o.signal });
      const ms = Date.now() - t0;
      const s = summarize(r.tokens, shape);
      const tm = r.timings;
      const decode = tm && tm.decodeMs > 0 ? (tm.decodeTokens * 1000) / tm.decodeMs : s.tokensPerSec;
      rows.push({ kind, prompt: p, tokens: r.tokens.length, decodeTokPerS: decode, msTotal: ms, attnSkip: s.attnSkip, mlpSkip: s.mlpSkip, weights: s.weightsReadFraction });
      ids[kind] = r.tokens;
    }
    const d = firstDivergence(ids.routed, ids.dense);
    const n = Math.max(1, Math.min(ids.routed.length, ids.dense.length));
    agreements.push(d < 0 ? 1 : d / n);
  }
  const of = (k: string) => rows.filter((r) => r.kind === k);
  const dense = { tokPerS: median(of('dense').map((r) => r.decodeTokPerS)), msTotal: median(of('dense').map((r) => r.msTotal)) };
  const rr = of('routed');
  const w = rr.map((r) => r.weights).filter((x): x is number => x !== undefined);
  const routed = { tokPerS: median(rr.map((r) => r.decodeTokPerS)), msTotal: median(rr.map((r) => r.msTotal)),
    attnSkip: median(rr.map((r) => r.attnSkip)), mlpSkip: median(rr.map((r) => r.mlpSkip)), weights: w.length ? median(w) : undefined };
  return { rows, dense, routed, speedup: dense.tokPerS > 0 ? routed.tokPerS / dense.tokPerS : 0,
    agreement: agreements.reduce((a, b) => a + b, 0) / Math.max(1, agreements.length), threshold: o.threshold, maxTokens };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function benchmarkReport(r: BenchmarkResult, about: { file: string; model?: string; ep?: string; threads?: number | string }): string {
  const lines = [
    `# SkipGPT dense vs routed: ${about.file}`, '',
    `Model ${about.model ?? '?'}, execution provider ${about.ep ?? '?'}, threads ${about.threads ?? 'default'}, `
      + `threshold ${r.threshold}, ${r.maxTokens} tokens per run, ${r.rows.length / 2} prompts, medians.`, '',
    '| | decode tok/s | ms per run | attention skipped | MLP skipped | weights read |',
    '|---|---:|---:|---:|---:|---:|',
    `| dense | ${r.dense.tokPerS.toFixed(1)} | ${r.dense.msTotal.toFixed(0)} | 0% | 0% | 100% |`,
    `| routed | ${r.routed.tokPerS.toFixed(1)} | ${r.routed.msTotal.toFixed(0)} | ${pct(r.routed.attnSkip)} | ${pct(r.routed.mlpSkip)} | ${r.routed.weights !== undefined ? pct(r.routed.weights) : '?'} |`,
    '', `Routed / dense decode speed: **${r.speedup.toFixed(2)}×**. Routed output matched dense for ${pct(r.agreement)} of its tokens before diverging (mean).`,
  ];
  return lines.join('\n') + '\n';
}
