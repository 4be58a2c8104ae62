// The sparsity dial (engine/sparsity.ts): skip rate <-> threshold through the manifest's calibration curve,
// interpolated in logit space on its running maximum; out-of-range targets clamped and flagged; folders without
// calibration refused with the rebuild hint; the reader's and the validator's checks; the Generator maps skipRate.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator } from '../../../extension/engine/generate';
import { type Calibration, parseManifest } from '../../../extension/engine/manifest';
import { ModelRunner } from '../../../extension/engine/runner';
import { NO_CALIBRATION, resolveThreshold, skipRateForThreshold, thresholdForSkipRate } from '../../../extension/engine/sparsity';
import { validateRequest } from '../../../extension/engine/validate';
import { tinyDir } from './fixture';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const pt = (threshold: number, skip: number, attn = skip, mlp = skip) => ({ threshold, skip, attn_skip: attn, mlp_skip: mlp });
/** A hand-made curve: logits -4, -2, 0, 2 -> 10%, 20%, (dip to 18%), 40%. */
const CURVE: Calibration = { source: 'test', tokens: 100, points: [pt(0, 0), pt(sigmoid(-4), 0.1, 0.15, 0.05),
  pt(sigmoid(-2), 0.2, 0.3, 0.1), pt(0.5, 0.18, 0.25, 0.11), pt(sigmoid(2), 0.4, 0.5, 0.3)] };
const man = (calibration?: Calibration | null) => ({ router: { modules: ['attn', 'mlp'], threshold_default: 0.5,
  probs_layout: '[S, L, 2]', rule: 'execute iff p_execute >= threshold', calibration } });
const fixture = () => JSON.parse(readFileSync(join(tinyDir, 'manifest.json'), 'utf8')) as Record<string, any>;
const logit = (t: number) => Math.log(t / (1 - t));

describe('engine/sparsity', () => {
  it('interpolates in logit space between calibration points', () => {
    const m = thresholdForSkipRate(man(CURVE), 0.15);
    assert.ok(Math.abs(logit(m.threshold) - -3) < 1e-9, `logit ${logit(m.threshold)}`);
    assert.deepStrictEqual([m.expected, m.clamped, m.range], [0.15, null, [0.1, 0.4]]);
    assert.ok(Math.abs(logit(thresholdForSkipRate(man(CURVE), 0.1).threshold) - -4) < 1e-9);
    assert.ok(Math.abs(logit(thresholdForSkipRate(man(CURVE), 0.4).threshold) - 2) < 1e-9);
  });

  it('uses the running maximum where the measured curve dips', () => {
    // The dip at logit 0 (18%) counts as 20%: 0.2 is first reached at -2, and 0.3 lies between 0 (20%) and 2 (40%).
    assert.ok(Math.abs(logit(thresholdForSkipRate(man(CURVE), 0.2).threshold) - -2) < 1e-9);
    assert.ok(Math.abs(logit(thresholdForSkipRate(man(CURVE), 0.3).threshold) - 1) < 1e-9);
    assert.strictEqual(skipRateForThreshold(man(CURVE), 0.5).skip, 0.2);
  });

  it('clamps targets outside the calibrated range and says so', () => {
    const above = thresholdForSkipRate(man(CURVE), 0.6);
    assert.deepStrictEqual([above.threshold, above.expected, above.clamped], [sigmoid(2), 0.4, 'above']);
    const low = thresholdForSkipRate(man(CURVE), 0.07);  // nearer the first point than dense
    assert.deepStrictEqual([low.threshold, low.expected, low.clamped], [sigmoid(-4), 0.1, 'below']);
    const tiny = thresholdForSkipRate(man(CURVE), 0.02);  // nearer dense
    assert.deepStrictEqual([tiny.threshold, tiny.expected, tiny.clamped], [0, 0, 'below']);
    assert.deepStrictEqual(thresholdForSkipRate(man(CURVE), 0), { threshold: 0, target: 0, expected: 0, clamped: null, range: [0.1, 0.4] });
    assert.throws(() => thresholdForSkipRate(man(CURVE), 1.5), /skip rate must be a number from 0 to 1/);
    assert.throws(() => thresholdForSkipRate(man(CURVE), NaN), /skip rate must be a number from 0 to 1/);
  });

  it('maps a threshold back to its calibrated skip rate (the inverse)', () => {
    for (const target of [0.1, 0.13, 0.25, 0.33, 0.4]) {
      const t = thresholdForSkipRate(man(CURVE), target).threshold;
      assert.ok(Math.abs(skipRateForThreshold(man(CURVE), t).skip - target) < 1e-9, `target ${target}`);
    }
    const mid = skipRateForThreshold(man(CURVE), sigmoid(-3));
    assert.ok(Math.abs(mid.attn - 0.225) < 1e-9 && Math.abs(mid.mlp - 0.075) < 1e-9 && mid.clamped === null);
    assert.deepStrictEqual(skipRateForThreshold(man(CURVE), 0), { skip: 0, attn: 0, mlp: 0, clamped: null });
    assert.deepStrictEqual(skipRateForThreshold(man(CURVE), 2), { skip: 1, attn: 1, mlp: 1, clamped: null });
    assert.strictEqual(skipRateForThreshold(man(CURVE), 0.99).clamped, 'above');
    assert.strictEqual(skipRateForThreshold(man(CURVE), 1e-6).clamped, 'below');
  });

  it('refuses skip rates on a folder without calibration, with the rebuild hint', () => {
    for (const m of [man(undefined), man(null)]) {
      assert.throws(() => thresholdForSkipRate(m, 0.25), (e: Error) => e.message === NO_CALIBRATION);
      assert.throws(() => skipRateForThreshold(m, 0.5), /no calibration: rebuild.*skipgpt calibrate/);
      assert.strictEqual(resolveThreshold(m, { threshold: 0.3 }), 0.3);  // thresholds keep working
      assert.strictEqual(resolveThreshold(m, {}), 0.5);
    }
    assert.throws(() => resolveThreshold(man(CURVE), { threshold: 0.3, skipRate: 0.2 }), /not both/);
  });

  it('reads the fixture calibration and refuses malformed curves', () => {
    const cal = parseManifest(fixture()).router.calibration as Calibration;
    assert.ok(cal.points.length >= 10 && cal.points[0].threshold === 0 && /standard library/.test(cal.source));
    const m = thresholdForSkipRate(parseManifest(fixture()), 0.45);
    assert.ok(m.clamped === null && m.threshold > 0 && m.threshold < 1);
    const absent = fixture(); delete absent.router.calibration;
    assert.strictEqual(parseManifest(absent).router.calibration, undefined);
    const bad: [(c: any) => void, RegExp][] = [
      [(c) => c.points.reverse(), /points\[1\]\.threshold should be >= 0 and above the previous one/],
      [(c) => { c.points[2].skip = 1.2; }, /points\[2\] skip, attn_skip, mlp_skip should be numbers from 0 to 1/],
      [(c) => { c.points = c.points.slice(0, 1); }, /at least 2 points/],
      [(c) => { c.tokens = 0; }, /tokens should be a positive integer/],
      [(c) => { delete c.source; }, /source should be a string/],
    ];
    for (const [change, message] of bad) {
      const d = fixture(); change(d.router.calibration);
      assert.throws(() => parseManifest(d), (e: Error) => /router\.calibration" is malformed/.test(e.message) && message.test(e.message));
    }
  });

  it('validates skipRate in requests', () => {
    const dims = { max_positions: 512, vocab: 384 };
    assert.throws(() => validateRequest({ prompt: 'a', skipRate: 1.2 }, dims), /skipRate must be a number from 0 to 1, got the number 1\.2$/);
    assert.throws(() => validateRequest({ prompt: 'a', skipRate: '0.2' }, dims), /skipRate must be a number from 0 to 1, got the string/);
    assert.throws(() => validateRequest({ prompt: 'a', skipRate: 0.2, threshold: 0.5 }, dims), /give threshold or skipRate, not both$/);
    assert.doesNotThrow(() => validateRequest({ prompt: 'a', skipRate: 0 }, dims));
  });

  it('the Generator runs a skipRate request at the mapped threshold, and refuses it without calibration', async () => {
    const runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu' });
    try {
      const gen = new Generator(runner);
      const r = await gen.complete({ prompt: 'def add(a, b):', maxTokens: 4, skipRate: 0.45 });
      assert.strictEqual(r.threshold, thresholdForSkipRate(runner.manifest, 0.45).threshold);
      assert.ok(r.threshold > 0.1 && r.threshold < 0.5, `threshold ${r.threshold}`);
      (runner.manifest.router as { calibration?: unknown }).calibration = undefined;
      await assert.rejects(gen.complete({ prompt: 'x', maxTokens: 1, skipRate: 0.3 }), /no calibration/);
    } finally {
      await runner.dispose();
    }
  });
});
