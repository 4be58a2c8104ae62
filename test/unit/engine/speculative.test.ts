// Prompt-lookup speculative decoding: the draft finder, and a Generator with `draftTokens` producing exactly the
// tokens and routing of plain greedy decoding in fewer forward steps, with a cache that stays consistent afterwards.
import * as assert from 'node:assert';
import { Generator } from '../../../extension/engine/generate';
import { findDraft } from '../../../extension/engine/lookup';
import type { CompleteRequest, CompleteResult } from '../../../extension/engine/protocol';
import { ModelRunner } from '../../../extension/engine/runner';
import { type Parity, readParity, tinyDir } from './fixture';

describe('findDraft (prompt lookup)', () => {
  it('copies what followed the most recent earlier occurrence of the last tokens', () => {
    //          0  1  2  3  4  5  6  7  8  9 10
    const seq = [5, 6, 7, 8, 9, 1, 6, 7, 2, 5, 6];
    // Tail [5, 6] occurred at 0..1, followed by 7 8 9.
    assert.deepStrictEqual(findDraft(seq, 3), [7, 8, 9]);
    assert.deepStrictEqual(findDraft(seq, 1), [7]);
    // Tail [1, 6, 7, 2] never occurred before; nor [6,7,2], [7,2]: nothing (a 1-gram [2] alone is not used).
    assert.deepStrictEqual(findDraft(seq.slice(0, 9), 4), []);
  });

  it('prefers the longest matching n-gram over a more recent shorter one', () => {
    // Tail [1, 2, 3]: [2, 3] occurs most recently at 6..7 (then 8), but [1, 2, 3] occurs at 0..2 (then 4).
    const seq = [1, 2, 3, 4, 0, 0, 2, 3, 8, 1, 2, 3];
    assert.deepStrictEqual(findDraft(seq, 2), [4, 0]);
  });

  it('stops at the end of the sequence and returns nothing for max < 1 or a too short sequence', () => {
    assert.deepStrictEqual(findDraft([3, 4, 3, 4], 5), [3, 4]); // overlapping repeat: [3,4] at 0..1, then 3 4
    assert.deepStrictEqual(findDraft([3, 4, 3, 4], 0), []);
    assert.deepStrictEqual(findDraft([3], 4), []);
    assert.deepStrictEqual(findDraft([], 4), []);
  });
});

describe('speculative decoding (tiny fixture)', () => {
  let runner: ModelRunner;
  let parity: Parity;
  let steps = 0;

  before(async () => {
    parity = readParity(tinyDir);
    runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
    const step = runner.step.bind(runner);
    runner.step = (...a) => { steps++; return step(...a); };
  });
  after(async () => { await runner?.dispose(); });

  async function run(gen: Generator, req: CompleteRequest): Promise<{ r: CompleteResult; steps: number }> {
    gen.reset();
    const s0 = steps;
    const r = await gen.complete(req);
    return { r, steps: steps - s0 };
  }
  const decisions = (r: CompleteResult) => r.tokens.map((t) => [t.id, ...t.attn, ...t.mlp]);

  // Drafters with known quality (the tiny model's output is random-like text that rarely repeats its context, so
  // prompt lookup itself is checked on the default model, default-model.test.ts).
  type Drafter = (seq: readonly number[], max: number) => number[];
  const oracle = (full: number[], wrongFrom = Infinity): Drafter => (seq, max) =>
    full.slice(seq.length, seq.length + max).map((id, i) => (i >= wrongFrom ? (id + 1) % runner.vocab : id));

  it('gives the same tokens and routing as plain greedy decoding, with one step per token that was not drafted right', async () => {
    for (const c of parity.cases) {
      const req = { ids: c.prompt_ids, threshold: c.threshold, maxTokens: 24 };
      const plain = await run(new Generator(runner, 1000), req);
      const full = [...c.prompt_ids, ...plain.r.tokens.map((t) => t.id)];
      assert.strictEqual(plain.steps, plain.r.tokens.length, 'one prefill step, then one step per token');
      for (const [what, drafter] of [['always right', oracle(full)], ['always wrong', oracle(full, 0)],
        ['right for 2 then wrong', oracle(full, 2)]] as [string, Drafter][]) {
        const spec = await run(new Generator(runner, 1000, drafter), { ...req, draftTokens: 4 });
        const t = spec.r.timings, name = `${c.name}, ${what}`;
        assert.deepStrictEqual(decisions(spec.r), decisions(plain.r), name);
        assert.strictEqual(spec.r.text, plain.r.text, name);
        assert.strictEqual(spec.r.finishReason, plain.r.finishReason, name);
        assert.strictEqual(spec.steps, spec.r.tokens.length - t.acceptedTokens, name);
        assert.strictEqual(t.decodeTokens, spec.r.tokens.length - 1, name);
        assert.ok(t.draftedTokens > 0, name);
        if (what === 'always wrong') assert.strictEqual(t.acceptedTokens, 0, name);
        if (what === 'always right') {
          assert.strictEqual(t.acceptedTokens, t.draftedTokens, name);
          // Up to 5 tokens a step: the row of the sampled token plus 4 drafted rows.
          if (plain.r.tokens.length === 24) assert.strictEqual(spec.steps, 1 + Math.ceil(23 / 5), name);
        }
        if (what === 'right for 2 then wrong') assert.ok(t.acceptedTokens > 0 && t.acceptedTokens < t.draftedTokens, name);
      }
    }
  });

  it('prompt lookup drafts from a context that repeats, and changes nothing in the output', async () => {
    let drafted = 0, accepted = 0;
    for (const c of parity.cases) {
      const req = { ids: [...c.prompt_ids, ...c.prompt_ids, ...c.prompt_ids], threshold: c.threshold, maxTokens: 16 };
      const plain = await run(new Generator(runner, 1000), req);
      const spec = await run(new Generator(runner, 1000), { ...req, draftTokens: 4 });
      assert.deepStrictEqual(decisions(spec.r), decisions(plain.r), c.name);
      assert.strictEqual(spec.steps, spec.r.tokens.length - spec.r.timings.acceptedTokens, c.name);
      drafted += spec.r.timings.draftedTokens; accepted += spec.r.timings.acceptedTokens;
    }
    assert.ok(drafted > 0 && accepted > 0, `drafted ${drafted}, accepted ${accepted}`);
  });

  it('leaves the cache as plain decoding does: a follow-up request reuses it and matches a cold run', async () => {
    const c = parity.cases.find((x) => x.threshold > 0) ?? parity.cases[0];
    const plain = await run(new Generator(runner, 1000), { ids: c.prompt_ids, threshold: c.threshold, maxTokens: 12 });
    const full = [...c.prompt_ids, ...plain.r.tokens.map((t) => t.id)];
    const gen = new Generator(runner, 1000, oracle(full, 2));  // some drafted rows are verified and then dropped
    const ids = c.prompt_ids;
    const spec = await run(gen, { ids, threshold: c.threshold, maxTokens: 12, draftTokens: 6 });
    assert.ok(spec.r.timings.draftedTokens > spec.r.timings.acceptedTokens);
    const more = [...ids, ...spec.r.tokens.map((t) => t.id)];
    const warm = await gen.complete({ ids: more, threshold: c.threshold, maxTokens: 6 });
    // Everything but the last generated token is cached (the unverified rows of a draft were dropped).
    assert.strictEqual(warm.timings.reusedTokens, more.length - 1);
    const cold = await run(gen, { ids: more, threshold: c.threshold, maxTokens: 6 });
    assert.deepStrictEqual(decisions(warm), decisions(cold.r));
  });

  it('is off for sampling (temperature > 0) and never drafts past maxTokens', async () => {
    const ids = parity.cases[0].prompt_ids;
    const plain = await run(new Generator(runner, 1000), { ids, maxTokens: 8 });
    const gen = new Generator(runner, 1000, oracle([...ids, ...plain.r.tokens.map((t) => t.id)]));
    const sampled = await run(gen, { ids, maxTokens: 8, temperature: 0.8, seed: 3, draftTokens: 4 });
    assert.strictEqual(sampled.r.timings.draftedTokens, 0);
    for (const maxTokens of [1, 2, 3]) {
      const r = await run(gen, { ids, maxTokens, draftTokens: 8 });
      assert.ok(r.r.tokens.length <= maxTokens);
      assert.ok(r.r.timings.draftedTokens <= Math.max(0, maxTokens - 2), `maxTokens ${maxTokens}: ${JSON.stringify(r.r.timings)}`);
    }
  });
});
