// The engine against PyTorch (parity.json of the tiny fixture): logits within tolerance, identical skip decisions,
// dense mode (threshold 0), greedy continuation, and prefix reuse giving the same tokens as a cold run.
import * as assert from 'node:assert';
import { Generator, routing } from '../../../extension/engine/generate';
import { ModelRunner } from '../../../extension/engine/runner';
import { type Parity, readParity, tinyDir } from './fixture';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.strictEqual(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('engine parity with PyTorch (tiny fixture)', () => {
  let runner: ModelRunner;
  let parity: Parity;

  before(async () => {
    parity = readParity(tinyDir);
    runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
  });
  after(async () => { await runner?.dispose(); });

  it('has routed and dense cases to check', () => {
    assert.ok(parity.cases.some((c) => c.threshold === 0), 'a dense case');
    assert.ok(parity.cases.some((c) => c.threshold > 0 && c.decisions.flat(2).includes(0)), 'a case with skips');
  });

  it('prefill: logits and router probs within tolerance, decisions identical (every case)', async () => {
    for (const c of parity.cases) {
      runner.cache.truncate(0);
      const S = c.prompt_ids.length, V = runner.vocab, L = runner.layers;
      const r = await runner.step(c.prompt_ids, c.threshold, S);
      const n = c.logits_vocab;
      const ours: number[] = [];
      for (let s = 0; s < S; s++) ours.push(...r.logits.subarray(s * V, s * V + n));
      const errLogits = maxAbsDiff(ours, c.logits.flat());
      assert.ok(errLogits <= parity.tolerance.logits_abs, `${c.name}: logits err ${errLogits}`);
      if (c.last_logits) {
        const err = maxAbsDiff(r.logits.subarray((S - 1) * V), c.last_logits);
        assert.ok(err <= parity.tolerance.logits_abs, `${c.name}: last logits err ${err}`);
      }
      const errProbs = maxAbsDiff(r.routerProbs, c.router_probs.flat(2));
      assert.ok(errProbs <= parity.tolerance.router_probs_abs, `${c.name}: router_probs err ${errProbs}`);
      for (let s = 0; s < S; s++) {
        const t = routing(c.prompt_ids[s], '', r.routerProbs.subarray(s * L * 2, (s + 1) * L * 2), c.threshold);
        const ref = c.decisions[s];
        assert.deepStrictEqual([...t.attn], ref.map((d) => d[0]), `${c.name}: attention decisions at position ${s}`);
        assert.deepStrictEqual([...t.mlp], ref.map((d) => d[1]), `${c.name}: MLP decisions at position ${s}`);
      }
      if (c.threshold === 0) assert.ok(r.routerProbs.length > 0 && ref1(c.decisions), `${c.name}: dense runs all`);
    }
  });

  it('decode through the KV cache (prefill 3, then one token per step) reproduces every position', async () => {
    const V = runner.vocab, L = runner.layers;
    for (const c of parity.cases) {
      runner.cache.truncate(0);
      const n = c.logits_vocab;
      await runner.step(c.prompt_ids.slice(0, 3), c.threshold, 3);
      for (let s = 3; s < c.prompt_ids.length; s++) {
        const r = await runner.step([c.prompt_ids[s]], c.threshold, 1);
        const err = maxAbsDiff(r.logits.subarray(0, n), c.logits[s]);
        assert.ok(err <= parity.tolerance.logits_abs, `${c.name} position ${s}: logits err ${err}`);
        const perr = maxAbsDiff(r.routerProbs, c.router_probs[s].flat());
        assert.ok(perr <= parity.tolerance.router_probs_abs, `${c.name} position ${s}: router_probs err ${perr}`);
        assert.strictEqual(r.logits.length, V);
        assert.strictEqual(r.routerProbs.length, L * 2);
      }
    }
  });

  it('greedy continuation (cached decode) equals PyTorch full recompute, routed and dense', async () => {
    const gen = new Generator(runner);
    for (const c of parity.cases) {
      gen.reset();
      const r = await gen.complete({ ids: c.prompt_ids, threshold: c.threshold, maxTokens: c.greedy.ids.length });
      const ids = r.tokens.map((t) => t.id);
      // The reference does not stop at EOS; the engine does. Compare up to where the engine stopped.
      assert.deepStrictEqual(ids, c.greedy.ids.slice(0, ids.length), c.name);
      if (r.finishReason !== 'eos') assert.strictEqual(ids.length, c.greedy.ids.length, c.name);
      if (c.threshold === 0) assert.ok(r.tokens.every((t) => t.attn.every((x) => x === 1) && t.mlp.every((x) => x === 1)));
    }
  });

  it('prefix reuse gives the same tokens and routing as a cold run, and prefills only the new tokens', async () => {
    const gen = new Generator(runner, 4); // small chunks so the cold run also exercises chunked prefill
    const c = parity.cases.find((x) => x.threshold === 0.5) ?? parity.cases[0];
    const tail = parity.tokenizer_cases[0].ids.slice(0, 6);
    const longer = [...c.prompt_ids, ...tail];
    gen.reset();
    const cold = await gen.complete({ ids: longer, threshold: 0.5, maxTokens: 6, tracePrompt: true });
    assert.strictEqual(cold.timings.reusedTokens, 0);
    gen.reset();
    await gen.complete({ ids: c.prompt_ids, threshold: 0.5, maxTokens: 3 });
    const warm = await gen.complete({ ids: longer, threshold: 0.5, maxTokens: 6, tracePrompt: true });
    assert.strictEqual(warm.timings.reusedTokens, c.prompt_ids.length);
    assert.strictEqual(warm.timings.prefillTokens, tail.length);
    assert.deepStrictEqual(warm.tokens.map((t) => t.id), cold.tokens.map((t) => t.id));
    assert.deepStrictEqual(warm.prompt!.map((t) => [...t.attn, ...t.mlp]), cold.prompt!.map((t) => [...t.attn, ...t.mlp]));
    // Another threshold changes hidden states, so the cache must not be reused.
    const other = await gen.complete({ ids: longer, threshold: 0, maxTokens: 2 });
    assert.strictEqual(other.timings.reusedTokens, 0);
  });

  it('cancellation is honoured before the next forward step (no token after the one that cancelled)', async () => {
    const gen = new Generator(runner);
    let cancel = false, steps = 0, count = 0;
    const step = runner.step.bind(runner);
    runner.step = (...a) => { steps++; return step(...a); };
    try {
      const r = await gen.complete({ ids: parity.cases[0].prompt_ids, maxTokens: 50, reusePrefix: false }, {
        isCancelled: () => cancel, onToken: () => { if (++count === 3) cancel = true; },
      });
      assert.strictEqual(r.finishReason, 'cancelled');
      assert.strictEqual(r.tokens.length, 3);
      assert.strictEqual(steps, 3, 'one prefill + two decode steps, none after the cancel');
    } finally {
      runner.step = step;
    }
  });

  it('the threshold is a per-request knob: 0 runs everything, above 1 skips everything', async () => {
    const gen = new Generator(runner);
    const ids = parity.cases[0].prompt_ids;
    const dense = await gen.complete({ ids, threshold: 0, maxTokens: 2, tracePrompt: true });
    const none = await gen.complete({ ids, threshold: 1.5, maxTokens: 2, tracePrompt: true });
    const count = (ts: { attn: Uint8Array; mlp: Uint8Array }[]) => ts.reduce((s, t) => s + t.attn.reduce((a, b) => a + b, 0) + t.mlp.reduce((a, b) => a + b, 0), 0);
    assert.strictEqual(count(dense.prompt!), ids.length * 2 * runner.layers);
    assert.strictEqual(count(none.prompt!) + count(none.tokens), 0);
  });
});

function ref1(decisions: number[][][]): boolean {
  return decisions.flat(2).every((d) => d === 1);
}
