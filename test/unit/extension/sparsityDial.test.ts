// The sparsity dial on the host side (completion/sparsityDial.ts): what a request carries for each combination of
// settings and model, the fallback without calibration, the wording, the "Set Sparsity" items and the typed rate.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suggestionRequest } from '../../../extension/completion/request';
import { DEFAULTS, MAX_SKIP_RATE, parseSettings } from '../../../extension/completion/settings';
import { describeDial, findItem, parseSkipRateInput, resolveDial, sparsityItems } from '../../../extension/completion/sparsityDial';
import type { Calibration } from '../../../extension/engine/protocol';
import { statusView } from '../../../extension/status/text';
import { parseWebviewMessage } from '../../../extension/webviews/protocol';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
// A curve with round numbers: 10% at sigmoid(-2), 30% at 0.5, 50% at sigmoid(2). Target 20% lies half-way between
// the first two in logit space: threshold sigmoid(-1).
const cal: Calibration = { source: 'test', tokens: 8, points: [
  { threshold: 0, skip: 0, attn_skip: 0, mlp_skip: 0 },
  { threshold: sigmoid(-2), skip: 0.1, attn_skip: 0.12, mlp_skip: 0.08 },
  { threshold: 0.5, skip: 0.3, attn_skip: 0.35, mlp_skip: 0.25 },
  { threshold: sigmoid(2), skip: 0.5, attn_skip: 0.55, mlp_skip: 0.45 },
] };
const calibrated = { thresholdDefault: 0.5, calibration: cal };
const close = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);

describe('sparsity dial (host)', () => {
  it('a target rate on a calibrated model: the request carries skipRate, the threshold comes from the curve', () => {
    const d = resolveDial({ ...DEFAULTS, skipRate: 0.2, threshold: 0.7 }, calibrated);
    assert.deepStrictEqual(d.request, { skipRate: 0.2 });
    assert.strictEqual(d.target, 0.2);
    close(d.threshold, sigmoid(-1));
    assert.strictEqual(d.fallback, undefined);
    assert.match(describeDial(d), /^target skip 20% \(threshold 0\.269\)$/);
  });

  it('dense mode wins over a target rate; no target = the threshold setting, else the model default', () => {
    assert.deepStrictEqual(resolveDial({ ...DEFAULTS, skipRate: 0.2, denseMode: true }, calibrated).request, { threshold: 0 });
    assert.strictEqual(describeDial(resolveDial({ ...DEFAULTS, skipRate: 0.2, denseMode: true }, calibrated)), 'dense');
    const byDefault = resolveDial(DEFAULTS, calibrated);
    assert.deepStrictEqual(byDefault.request, { threshold: 0.5 });
    close(byDefault.expected, 0.3);
    assert.match(describeDial(byDefault), /^threshold 0\.5 \(≈30% skipped on held-out code\)$/);
    assert.deepStrictEqual(resolveDial({ ...DEFAULTS, threshold: 0.7 }, calibrated).request, { threshold: 0.7 });
  });

  it('a model without calibration falls back to the threshold and says why; before a model loads, nothing to say', () => {
    const d = resolveDial({ ...DEFAULTS, skipRate: 0.3, threshold: 0.6 }, { thresholdDefault: 0.5, calibration: null });
    assert.deepStrictEqual(d.request, { threshold: 0.6 });
    assert.match(d.fallback ?? '', /skipgpt\.skipRate 30% is not used: this model folder has no calibration.*skipgpt calibrate.*threshold 0\.6 instead/);
    const noModel = resolveDial({ ...DEFAULTS, skipRate: 0.3 }, {});
    assert.deepStrictEqual(noModel.request, { threshold: undefined });
    assert.strictEqual(noModel.fallback, undefined);
    assert.strictEqual(resolveDial({ ...DEFAULTS, skipRate: 0.3, denseMode: true }, { calibration: null }).fallback, undefined, 'dense: no target to miss');
  });

  it('suggestion requests follow the dial (never both threshold and skipRate)', () => {
    const t = { prefix: 'x', suffix: '' };
    const r = suggestionRequest(t, { ...DEFAULTS, skipRate: 0.25, threshold: 0.7 }, { specialTokens: [], ...calibrated });
    assert.strictEqual(r.skipRate, 0.25);
    assert.ok(!('threshold' in r), 'no threshold key next to skipRate');
    const f = suggestionRequest(t, { ...DEFAULTS, skipRate: 0.25 }, { specialTokens: [], thresholdDefault: 0.5, calibration: null });
    assert.deepStrictEqual([f.threshold, f.skipRate], [0.5, undefined]);
  });

  it('Set Sparsity offers named rates with the expected rate and threshold, "Model default", and both custom inputs', () => {
    const { items, note } = sparsityItems(calibrated, DEFAULTS);
    assert.strictEqual(note, undefined);
    assert.deepStrictEqual(items.map((i) => i.label),
      ['Light 10%', 'Balanced 20%', 'Model default', 'Fast 30%', 'Fastest 40%', 'Dense 0%', 'Custom skip rate…', 'Custom threshold…']);
    const balanced = findItem(items, 'Balanced 20%')!;
    assert.deepStrictEqual(balanced.choice, { skipRate: 0.2 });
    assert.match(balanced.detail, /^expected 20% skipped at threshold 0\.269 \(calibrated/);
    assert.match(findItem(items, 'Model default')!.detail, /measured 30% skipped at the manifest's default threshold 0\.5/);
    assert.deepStrictEqual(findItem(items, 'Model default')!.choice, { skipRate: null, threshold: null });
    assert.deepStrictEqual(findItem(items, 'dense')!.choice, { skipRate: 0 });
    assert.strictEqual(findItem(items, 'Custom skip rate')!.choice, 'custom-rate');
    assert.strictEqual(findItem(items, 'fast 30%')!.label, 'Fast 30%', 'labels match without case');
    assert.strictEqual(findItem(items, 'Turbo'), undefined);
  });

  it('a preset outside the calibrated range says where it lands (the tiny fixture starts at 23%)', () => {
    const tiny = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'tiny', 'manifest.json'), 'utf8'));
    const { items } = sparsityItems({ thresholdDefault: tiny.router.threshold_default, calibration: tiny.router.calibration }, DEFAULTS);
    assert.match(findItem(items, 'Light 10%')!.detail, /calibrated range is 23\.4%–96%, nearest reachable/);
    assert.match(findItem(items, 'Fast 30%')!.detail, /^expected 30% skipped at threshold 0\.00\d+ \(calibrated/);
  });

  it('without calibration only thresholds are offered, with the reason', () => {
    const { items, note } = sparsityItems({ thresholdDefault: 0.5, calibration: null }, DEFAULTS);
    assert.deepStrictEqual(items.map((i) => i.label), ['Dense', 'Trained (default)', 'Sparser', 'Aggressive', 'Custom threshold…']);
    for (const i of items) assert.ok(i.choice === 'custom-threshold' || (typeof i.choice === 'object' && i.choice.skipRate === null), `${i.label} clears the target rate`);
    assert.match(note ?? '', /no skip-rate calibration.*python -m skipgpt calibrate/);
    assert.match(sparsityItems({}, DEFAULTS).note ?? '', /No model is loaded yet/);
  });

  it('parses a typed skip rate as a percentage', () => {
    assert.deepStrictEqual(parseSkipRateInput('25'), { value: 0.25 });
    assert.deepStrictEqual(parseSkipRateInput(' 25% '), { value: 0.25 });
    assert.deepStrictEqual(parseSkipRateInput('12.5 %'), { value: 0.125 });
    assert.deepStrictEqual(parseSkipRateInput('0'), { value: 0 });
    assert.deepStrictEqual(parseSkipRateInput('0.5%'), { value: 0.005 });
    assert.match(parseSkipRateInput('0.25').error ?? '', /25 means 25%/);
    for (const bad of ['', '%', 'abc', '-5', '95', '25%%']) assert.ok(parseSkipRateInput(bad).error, bad);
    assert.deepStrictEqual(parseSkipRateInput(String(MAX_SKIP_RATE * 100)), { value: MAX_SKIP_RATE });
  });

  it('reads the skipRate setting: a number clamped to 0..0.9, anything else none', () => {
    const parse = (v: unknown) => parseSettings((k) => (k === 'skipRate' ? v : undefined)).skipRate;
    assert.strictEqual(parse(0.3), 0.3);
    assert.strictEqual(parse(2), MAX_SKIP_RATE);
    assert.strictEqual(parse(-1), 0);
    assert.strictEqual(parse('30%'), null);
    assert.strictEqual(parse(null), null);
  });

  it('the status bar shows the target next to the realised rate; the tooltip the fallback', () => {
    const last = { latencyMs: 84, tokensPerSec: 31, skipRate: 0.274, tokens: 12 };
    const v = statusView({ state: 'ready', inlineEnabled: true, last, target: 0.3, routing: 'target skip 30% (threshold 0.00227)' });
    assert.strictEqual(v.text, '$(zap) 84 ms · 31 tok/s · skip 27% (target 30%)');
    assert.match(v.tooltip, /Routing: target skip 30% \(threshold 0\.00227\)/);
    assert.match(v.tooltip, /27% of sublayers skipped \(target 30%\)/);
    assert.strictEqual(statusView({ state: 'ready', inlineEnabled: true, target: 0.3 }).text, '$(zap) SkipGPT · target 30%');
    assert.match(statusView({ state: 'ready', inlineEnabled: true, fallback: 'skipgpt.skipRate 30% is not used' }).tooltip, /is not used/);
  });

  it('the inspector may re-run at a target rate (0..1), never with both or out of range', () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: 'rerun', skipRate: 0.3 }), { type: 'rerun', skipRate: 0.3 });
    for (const bad of [{ type: 'rerun', skipRate: 1.5 }, { type: 'rerun', skipRate: NaN }, { type: 'rerun', skipRate: '0.3' },
      { type: 'rerun', skipRate: 0.3, threshold: 0.5 }, { type: 'rerun' }]) {
      assert.strictEqual(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
    }
  });
});
