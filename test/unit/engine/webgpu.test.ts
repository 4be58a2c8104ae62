// The GPU path on onnxruntime-node's WebGPU provider (any Vulkan device; CI and set-up install Mesa's software one):
// the GPU graph (model.gpu.onnx) against the CPU graph on the tiny fixture — logits within tolerance and identical
// skip decisions at dense, default, mixed and all-skipped thresholds, sublayers with 0 and 1 executed rows in prefill
// and decode, prefix reuse and drafts through the Generator, and `auto`'s probe. Without an adapter the suite skips,
// unless SKIPGPT_REQUIRE_WEBGPU=1 (scripts/test.sh sets it where set-up installed the device) makes that a failure.
import * as assert from 'node:assert';
import { Generator } from '../../../extension/engine/generate';
import { ALL_SKIPPED, parityProblem, probe } from '../../../extension/engine/probe';
import { probeInChild } from '../../../extension/engine/providers';
import { ModelRunner } from '../../../extension/engine/runner';
import { readParity, tinyDir } from './fixture';

/** float32 graphs on two providers: kernel rounding only (measured max 2e-6 on the fixture). */
const LOGITS_TOL = 1e-3;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.strictEqual(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Executed rows per (layer, module) of one step: [L][2] counts from its router probs at `threshold`. */
function executedRows(probs: Float32Array, S: number, L: number, threshold: number): number[][] {
  const rows = Array.from({ length: L }, () => [0, 0]);
  for (let s = 0; s < S; s++) for (let l = 0; l < L; l++) for (let m = 0; m < 2; m++) {
    if (probs[(s * L + l) * 2 + m] >= Math.fround(threshold)) rows[l][m]++;
  }
  return rows;
}

describe('engine on WebGPU (tiny fixture, GPU graph)', function () {
  this.timeout(240000);
  let gpu: ModelRunner, cpu: ModelRunner;
  const parity = readParity(tinyDir);
  const thresholds = [0, 0.5, 0.6, ALL_SKIPPED]; // dense, default, mixed, all skipped

  before(async function () {
    try {
      gpu = await ModelRunner.loadOn(tinyDir, 'webgpu');
    } catch (e) {
      if (process.env.SKIPGPT_REQUIRE_WEBGPU === '1') throw e;
      console.log(`      (skipped: no WebGPU adapter: ${(e as Error).message})`);
      this.skip();
    }
    cpu = await ModelRunner.loadOn(tinyDir, 'cpu', 1);
  });
  after(async () => { await gpu?.dispose(); await cpu?.dispose(); });

  it('loads the GPU graph, not the CPU one', () => {
    assert.strictEqual(gpu.executionProvider, 'webgpu');
    assert.strictEqual(parity.cases.length > 0 && gpu.manifest.files.model_gpu, 'model.gpu.onnx');
  });

  /** A threshold at which layer 0's attention executes exactly one prompt row: its router reads the embeddings
   * only, so its probabilities do not depend on the threshold; the highest one is the single row that passes. */
  async function oneRowThreshold(ids: number[]): Promise<number> {
    cpu.cache.truncate(0);
    const r = await cpu.step(ids, 0, 1);
    let best = 0;
    for (let s = 0; s < ids.length; s++) best = Math.max(best, r.routerProbs[s * cpu.layers * 2]);
    return best;
  }

  it('prefill and greedy decode match the CPU at every threshold, with 0- and 1-row sublayers covered', async () => {
    const L = gpu.layers, seen = { prefill0: 0, prefill1: 0, decode0: 0, decode1: 0 };
    for (const c of parity.cases) for (const thr of [...thresholds, await oneRowThreshold(c.prompt_ids)]) {
      gpu.cache.truncate(0); cpu.cache.truncate(0);
      const S = c.prompt_ids.length;
      let g = await gpu.step(c.prompt_ids, thr, S), r = await cpu.step(c.prompt_ids, thr, S);
      assert.ok(maxAbsDiff(g.logits, r.logits) <= LOGITS_TOL, `${c.name}@${thr}: prefill logits`);
      assert.deepStrictEqual(executedRows(g.routerProbs, S, L, thr), executedRows(r.routerProbs, S, L, thr), `${c.name}@${thr}: decisions`);
      for (const row of executedRows(r.routerProbs, S, L, thr).flat()) { if (row === 0) seen.prefill0++; if (row === 1) seen.prefill1++; }
      for (let step = 0; step < 6; step++) {
        const next = r.logits.subarray(r.logits.length - gpu.vocab).reduce((best, v, i, a) => (v > a[best] ? i : best), 0);
        g = await gpu.step([next], thr); r = await cpu.step([next], thr);
        assert.ok(maxAbsDiff(g.logits, r.logits) <= LOGITS_TOL, `${c.name}@${thr}: decode step ${step} logits`);
        const rows = executedRows(r.routerProbs, 1, L, thr);
        assert.deepStrictEqual(executedRows(g.routerProbs, 1, L, thr), rows, `${c.name}@${thr}: decode decisions`);
        for (const n of rows.flat()) { if (n === 0) seen.decode0++; else seen.decode1++; }
      }
    }
    // The cases must really exercise the shapes that crashed WebGPU (0 rows) and the smallest non-empty one.
    assert.ok(seen.prefill0 > 0 && seen.prefill1 > 0 && seen.decode0 > 0 && seen.decode1 > 0, JSON.stringify(seen));
  });

  it('the Generator gives the CPU tokens with prefix reuse and with drafts', async () => {
    const gg = new Generator(gpu), cg = new Generator(cpu);
    const prompt = 'def add(a, b):\n    return a + b\n\ndef add(a, b):\n';
    for (const req of [{ prompt, maxTokens: 8 }, { prompt: `${prompt}    return`, maxTokens: 8 }, { prompt, maxTokens: 8, draftTokens: 3 }]) {
      const a = await gg.complete(req), b = await cg.complete(req);
      assert.deepStrictEqual(a.tokens.map((t) => t.id), b.tokens.map((t) => t.id), JSON.stringify(req));
      assert.deepStrictEqual(a.tokens.map((t) => [...t.attn, ...t.mlp]), b.tokens.map((t) => [...t.attn, ...t.mlp]));
      if (req.prompt !== prompt) assert.ok(a.timings.reusedTokens > 0, 'the second prompt reuses the first one\'s cache');
    }
  });

  it('auto\'s probe: the WebGPU probe (own process) matches the CPU probe', async () => {
    const ref = await probe(cpu, 0);
    const { result, reason } = await probeInChild(tinyDir, 'webgpu', 0, { ...ref, stepMs: Infinity }, 180000);
    assert.ok(result, `probe failed: ${reason}`);
    assert.strictEqual(parityProblem(ref, result), undefined);
    // and the comparison is not blind: a shifted logit is caught
    const bad = structuredClone(result);
    bad.cases[0].steps[0].values[0] += 5;
    assert.match(parityProblem(ref, bad) ?? '', /logit of token/);
  });
});
