// Routing statistics and trace export: skip rates per module and layer, weights-read fraction, divergence, CSV/JSON.
import * as assert from 'node:assert';
import { firstDivergence, SessionStats, summarize, weightsReadFraction } from '../../../extension/routing/stats';
import { traceToCsv, traceToJson } from '../../../extension/routing/export';
import type { ModelSizes } from '../../../extension/routing/stats';
import { trace } from './fakeEngine';

const smol: ModelSizes = { layers: 30, hidden: 576, intermediate: 1536, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152 };

describe('routing stats', () => {
  it('counts attention and MLP skips apart, per layer', () => {
    const toks = [trace('a', 1, 4, 2), trace('b', 2, 4, 2)];   // attn skipped at layers 0 and 2, MLP never
    const s = summarize(toks, undefined, 40);
    assert.strictEqual(s.attnSkip, 0.5);
    assert.strictEqual(s.mlpSkip, 0);
    assert.deepStrictEqual(s.perLayerAttnSkip, [1, 0, 1, 0]);
    assert.strictEqual(s.tokensPerSec, 50);
  });

  it('dense reads all weights; skipping everything leaves K/V and the LM head (SmolLM2 shape)', () => {
    const dense = trace('x', 1, 30, 1e9); dense.attn.fill(1); dense.mlp.fill(1);
    assert.strictEqual(weightsReadFraction([dense], smol), 1);
    const none = trace('x', 1, 30); none.attn.fill(0); none.mlp.fill(0);
    const f = weightsReadFraction([none], smol);
    // LM head 28.3M + 30 × K/V 0.221M = 34.9M of 134.5M (notes: K/V kept, tied head caps the saving)
    assert.ok(Math.abs(f - (49152 * 576 + 30 * 2 * 576 * 192) / (49152 * 576 + 30 * (2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536))) < 1e-12);
    assert.ok(f > 0.25 && f < 0.27, String(f));
  });

  it('finds where a routed run diverges from the dense run', () => {
    assert.strictEqual(firstDivergence([{ id: 1 }, { id: 2 }, { id: 3 }], [{ id: 1 }, { id: 2 }, { id: 4 }]), 2);
    assert.strictEqual(firstDivergence([{ id: 1 }], [{ id: 1 }, { id: 2 }]), -1);
  });

  it('accumulates per-layer skip rates over the session', () => {
    const s = new SessionStats();
    s.add([trace('a', 1, 4, 2)]);
    s.add([trace('b', 1, 4, 4), trace('c', 1, 4, 4)]);
    const r = s.rates();
    assert.strictEqual(r.tokens, 3);
    assert.deepStrictEqual(r.attn, [1, 0, 1 / 3, 0]);
  });

  it('exports CSV with one row per token × layer and quoted token text', () => {
    const csv = traceToCsv({ prompt: 'p', threshold: 0.5, tokens: [trace('a,"b"\n', 7, 3), trace('c', 8, 3)] });
    const lines = csv.trim().split('\n');
    assert.strictEqual(lines[0], 'token_index,token_id,token_text,layer,attn_executed,mlp_executed,p_attn,p_mlp,ms');
    assert.ok(csv.includes('"a,""b""\n"'), 'RFC 4180 quoting');
    assert.strictEqual(csv.split('\n').filter((l) => /^\d+,\d+,/.test(l)).length, 6 - 3 + 3);
  });

  it('exports JSON with the decisions and probabilities', () => {
    const j = JSON.parse(traceToJson({ prompt: 'p', threshold: 0.5, model: 'tiny', tokens: [trace('a', 7, 2)] }));
    assert.strictEqual(j.format, 'skipgpt-trace');
    assert.deepStrictEqual(j.tokens[0].attn, [0, 1]);
    assert.deepStrictEqual(j.tokens[0].pAttn, [0.1, 0.9]);
  });
});
