// Sampling: greedy is argmax, a seed reproduces a draw, top-p never picks outside the nucleus.
import * as assert from 'node:assert';
import { argmax, sample, seededRandom } from '../../../extension/engine/sampling';

describe('engine/sampling', () => {
  const logits = Float32Array.from([0.1, 3.0, 2.9, -1, 0]);

  it('temperature 0 is greedy (first max on ties)', () => {
    assert.strictEqual(sample(logits, { temperature: 0, topP: 1 }, () => 0.99), 1);
    assert.strictEqual(argmax(Float32Array.from([1, 5, 5])), 1);
  });

  it('the same seed gives the same sequence, another seed a different one', () => {
    const draw = (seed: number) => { const r = seededRandom(seed); return Array.from({ length: 20 }, () => sample(logits, { temperature: 2, topP: 1 }, r)); };
    assert.deepStrictEqual(draw(7), draw(7));
    assert.notDeepStrictEqual(draw(7), draw(8));
  });

  it('top-p keeps only the smallest set reaching the mass', () => {
    // p(1) and p(2) are ~0.45 each at T=1; with topP 0.5 only tokens 1 and 2 may be drawn.
    const r = seededRandom(1);
    const seen = new Set(Array.from({ length: 500 }, () => sample(logits, { temperature: 1, topP: 0.5 }, r)));
    assert.deepStrictEqual([...seen].sort(), [1, 2]);
    const all = new Set(Array.from({ length: 2000 }, () => sample(logits, { temperature: 1, topP: 1 }, r)));
    assert.ok(all.has(0) && all.has(4), `full distribution reaches low tokens: ${[...all]}`);
  });

  it('top-p reaches into the long tail when the nucleus needs it (candidate cut lowered)', () => {
    // Token 0 holds ~half the mass; 5,000 tail tokens each far below 1e-3 of it hold the other half.
    const l = new Float32Array(5001).fill(Math.log(1 / 5000));
    l[0] = 0;
    const r = seededRandom(2);
    const draws = Array.from({ length: 400 }, () => sample(l, { temperature: 1, topP: 0.9 }, r));
    const tail = draws.filter((d) => d !== 0).length;
    assert.ok(tail > 100 && tail < 300, `tail drawn ${tail}/400 times (expected about 178)`);
  });

  it('rejects a top-p outside (0, 1]', () => {
    assert.throws(() => sample(logits, { temperature: 1, topP: 0 }, Math.random), /topP/);
  });
});
