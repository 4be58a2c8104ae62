// The probe behind `auto`: a few forward steps on a loaded ModelRunner that time a decode step and fingerprint the
// logits (greedy tokens and top logits) at the default threshold, dense (0) and all-skipped (2, every sublayer has
// 0 executed rows: the case that crashed WebGPU). The same probe runs on the CPU in the engine and on each GPU
// candidate in a child process (probe-main.ts), and parityProblem() compares the two.
import type { ModelRunner } from './runner';

/** Logits of one position: the best ids and their values, best first. */
export interface TopLogits { ids: number[]; values: number[] }
export interface ProbeCase { threshold: number; steps: TopLogits[] }
export interface ProbeResult {
  ep: string;
  loadMs: number;
  /** Median wall time of a warm single-token decode step at the model's default threshold. */
  stepMs: number;
  /** Wall time of a warm PROBE_TOKENS-token prefill at the default threshold. */
  prefillMs: number;
  cases: ProbeCase[];
}

const PROBE_TEXT = 'def add(a, b):\n    """Return the sum."""\n    return a + b\n\n\nprint(add(1, 2))\n';
const PROBE_TOKENS = 16;
const DECODE_STEPS = 4;
const TOP = 8;
/** All-skipped threshold: p_execute is at most 1, so nothing runs. */
export const ALL_SKIPPED = 2;

function top(logits: Float32Array, k = TOP): TopLogits {
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (ids.length < k || logits[i] > logits[ids[ids.length - 1]]) {
      ids.push(i);
      ids.sort((a, b) => logits[b] - logits[a]);
      if (ids.length > k) ids.pop();
    }
  }
  return { ids, values: ids.map((i) => logits[i]) };
}

/** Prefill the probe prompt then decode greedily; returns the top logits of each step and the timings. */
async function run(runner: ModelRunner, threshold: number): Promise<{ steps: TopLogits[]; prefillMs: number; decodeMs: number[] }> {
  const ids = runner.tokenizer.encode(PROBE_TEXT).slice(0, PROBE_TOKENS);
  runner.cache.truncate(0);
  const first = await runner.step(ids, threshold);
  const steps = [top(first.logits)];
  const decodeMs: number[] = [];
  for (let i = 0; i < DECODE_STEPS; i++) {
    const r = await runner.step([steps[steps.length - 1].ids[0]], threshold);
    decodeMs.push(r.ms);
    steps.push(top(r.logits));
  }
  runner.cache.truncate(0);
  return { steps, prefillMs: first.ms, decodeMs };
}

/**
 * Probe a loaded runner. `onTiming` gets the step time as soon as it is known (a caller may stop a slow candidate
 * there). The first pass at the default threshold warms up (GPU shader compilation), the second is timed.
 */
export async function probe(runner: ModelRunner, loadMs: number, onTiming?: (stepMs: number) => void): Promise<ProbeResult> {
  const thr = runner.manifest.router.threshold_default;
  await run(runner, thr);
  const timed = await run(runner, thr);
  const sorted = [...timed.decodeMs].sort((a, b) => a - b);
  const stepMs = sorted[Math.floor(sorted.length / 2)];
  onTiming?.(stepMs);
  const cases: ProbeCase[] = [{ threshold: thr, steps: timed.steps }];
  for (const t of [0, ALL_SKIPPED]) cases.push({ threshold: t, steps: (await run(runner, t)).steps });
  return { ep: runner.executionProvider, loadMs, stepMs, prefillMs: timed.prefillMs, cases };
}

/** Logit tolerance: 8-bit weights run different kernels per provider (CPU quantizes activations, accuracy_level 4). */
const tolerance = (v: number): number => 0.15 + 0.03 * Math.abs(v);

/**
 * Why `got` does not match the CPU's `ref` (undefined = parity holds): at every step the greedy token must agree
 * unless the CPU's best two are within tolerance (a near tie), and the first step's top logits must agree within
 * tolerance. After an allowed near-tie divergence the inputs differ, so later steps are not compared.
 */
export function parityProblem(ref: ProbeResult, got: ProbeResult): string | undefined {
  for (const c of ref.cases) {
    const g = got.cases.find((x) => x.threshold === c.threshold);
    if (!g) return `no result at threshold ${c.threshold}`;
    const a = c.steps[0], b = g.steps[0];
    for (let i = 0; i < Math.min(2, a.ids.length); i++) { // the CPU's best two must keep their values
      const j = b.ids.indexOf(a.ids[i]);
      const diff = j < 0 ? Infinity : Math.abs(b.values[j] - a.values[i]);
      if (diff > tolerance(a.values[i])) {
        return `threshold ${c.threshold}: logit of token ${a.ids[i]} is ${j < 0 ? 'not in the top' : b.values[j].toFixed(3)} vs CPU ${a.values[i].toFixed(3)}`;
      }
    }
    for (let s = 0; s < c.steps.length && s < g.steps.length; s++) {
      const r = c.steps[s], x = g.steps[s];
      if (r.ids[0] === x.ids[0]) continue;
      if (r.values[0] - r.values[1] <= tolerance(r.values[0])) break; // near tie: a legitimate divergence
      return `threshold ${c.threshold}: step ${s} picks token ${x.ids[0]}, the CPU ${r.ids[0]}`;
    }
  }
  return undefined;
}
