// The sparsity dial: a target skip rate (fraction of sublayers skipped) <-> the router threshold the graph takes,
// through the curve the build measured on held-out code (manifest `router.calibration`, written by
// training/skipgpt/export/calibrate.py; docs/MANIFEST.md). Router probabilities crowd near 0 and 1, so thresholds
// are interpolated in logit space, where the curve is close to linear. The stored curve need not be monotone
// (skipping changes later layers' inputs); lookups use its running maximum.
import type { Calibration, Manifest } from './manifest';

export const NO_CALIBRATION = 'this model folder has no calibration: rebuild it (`npm run model` / ' +
  '`python -m skipgpt build`) or run `python -m skipgpt calibrate --model DIR`';

/** Which side of the calibrated range a value was clamped to; null when it was inside. */
export type Clamp = 'below' | 'above' | null;

export interface SkipRateMapping {
  /** The threshold to run with (a sublayer runs iff p_execute >= threshold). */
  threshold: number;
  /** The skip rate asked for. */
  target: number;
  /** The skip rate the calibration predicts at `threshold` (the target itself when it is inside the range). */
  expected: number;
  /** Set when the target is outside `range` and the nearest reachable end was taken. Target 0 maps to 0 (dense). */
  clamped: Clamp;
  /** Skip rates the curve covers: [first point above threshold 0, last point]. */
  range: [number, number];
}

export interface SkipRateEstimate {
  /** Predicted fraction of sublayers skipped (attention and MLP together), and each apart. */
  skip: number; attn: number; mlp: number;
  /** Set when the threshold lies outside the calibrated thresholds (the estimate is then a bound). */
  clamped: Clamp;
}

type Point = Calibration['points'][number];

/** What the lookups read: only the router's calibration (a Manifest, or LoadInfo.calibration wrapped by the host). */
export type CalibratedRouter = { router: Pick<Manifest['router'], 'calibration'> };

/** The calibration of a manifest, or undefined for a folder built without one. */
export function calibrationOf(manifest: CalibratedRouter): Calibration | undefined {
  return manifest.router.calibration ?? undefined;
}

const logit = (t: number) => Math.log(t) - Math.log1p(-t);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Points above threshold 0 with every fraction replaced by its running maximum (a monotone curve for lookups). */
function monotone(cal: Calibration): Point[] {
  const out: Point[] = [];
  let skip = 0, attn = 0, mlp = 0;
  for (const p of cal.points) {
    skip = Math.max(skip, p.skip); attn = Math.max(attn, p.attn_skip); mlp = Math.max(mlp, p.mlp_skip);
    // Thresholds at or above 1 have no logit; they cannot be interpolated (and skip nearly everything).
    if (p.threshold > 0 && p.threshold < 1) out.push({ threshold: p.threshold, skip, attn_skip: attn, mlp_skip: mlp });
  }
  return out;
}

function needCalibration(manifest: CalibratedRouter): Point[] {
  const cal = calibrationOf(manifest);
  const curve = cal ? monotone(cal) : [];
  if (curve.length === 0) throw new Error(NO_CALIBRATION);
  return curve;
}

/** The threshold whose calibrated skip rate is `target` (0..1), by interpolation in logit space. */
export function thresholdForSkipRate(manifest: CalibratedRouter, target: number): SkipRateMapping {
  if (!(typeof target === 'number' && target >= 0 && target <= 1)) {
    throw new Error(`a skip rate must be a number from 0 to 1, got ${target}`);
  }
  const curve = needCalibration(manifest);
  const first = curve[0], last = curve[curve.length - 1];
  const range: [number, number] = [first.skip, last.skip];
  if (target === 0) return { threshold: 0, target, expected: 0, clamped: null, range };  // threshold 0 = dense
  if (target < first.skip) {
    // Between dense (threshold 0) and the first calibrated point there is no logit to interpolate: take the nearer.
    const dense = target < first.skip / 2;
    return { threshold: dense ? 0 : first.threshold, target, expected: dense ? 0 : first.skip, clamped: 'below', range };
  }
  if (target > last.skip) return { threshold: last.threshold, target, expected: last.skip, clamped: 'above', range };
  const i = curve.findIndex((p) => p.skip >= target);
  if (i === 0) return { threshold: first.threshold, target, expected: target, clamped: null, range };
  const a = curve[i - 1], b = curve[i];  // a.skip < target <= b.skip
  const za = logit(a.threshold), zb = logit(b.threshold);
  const z = za + ((target - a.skip) / (b.skip - a.skip)) * (zb - za);
  return { threshold: sigmoid(z), target, expected: target, clamped: null, range };
}

/** The calibrated skip rate at `threshold` (the inverse of thresholdForSkipRate), e.g. to show what a threshold means. */
export function skipRateForThreshold(manifest: CalibratedRouter, threshold: number): SkipRateEstimate {
  if (!(typeof threshold === 'number' && threshold >= 0)) throw new Error(`a threshold must be a number >= 0, got ${threshold}`);
  const curve = needCalibration(manifest);
  const est = (p: Point, clamped: Clamp): SkipRateEstimate => ({ skip: p.skip, attn: p.attn_skip, mlp: p.mlp_skip, clamped });
  if (threshold === 0) return { skip: 0, attn: 0, mlp: 0, clamped: null };  // every p_execute >= 0
  if (threshold > 1) return { skip: 1, attn: 1, mlp: 1, clamped: null };  // no p_execute reaches it
  const first = curve[0], last = curve[curve.length - 1];
  if (threshold < first.threshold) {
    // Below the grid: linear in the threshold from dense; a rough figure, hence flagged.
    const f = threshold / first.threshold;
    return { skip: f * first.skip, attn: f * first.attn_skip, mlp: f * first.mlp_skip, clamped: 'below' };
  }
  if (threshold >= last.threshold) return est(last, threshold === last.threshold ? null : 'above');
  const i = curve.findIndex((p) => p.threshold > threshold);
  const a = curve[i - 1], b = curve[i];
  const f = (logit(threshold) - logit(a.threshold)) / (logit(b.threshold) - logit(a.threshold));
  const mix = (x: number, y: number) => x + f * (y - x);
  return { skip: mix(a.skip, b.skip), attn: mix(a.attn_skip, b.attn_skip), mlp: mix(a.mlp_skip, b.mlp_skip), clamped: null };
}

/** The threshold a request runs with: its `skipRate` mapped through the calibration, its `threshold`, or the default. */
export function resolveThreshold(manifest: Pick<Manifest, 'router'>, req: { threshold?: number; skipRate?: number }): number {
  if (req.skipRate !== undefined && req.threshold !== undefined) throw new Error('give threshold or skipRate, not both');
  if (req.skipRate !== undefined) return thresholdForSkipRate(manifest, req.skipRate).threshold;
  return req.threshold ?? manifest.router.threshold_default;
}

/** Why `v` is not a valid `router.calibration` (manifest reader), or undefined when it is. */
export function calibrationProblem(v: unknown): string | undefined {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const frac = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;
  if (!isObj(v)) return 'should be an object';
  if (typeof v.source !== 'string') return 'source should be a string';
  if (!Number.isInteger(v.tokens) || (v.tokens as number) < 1) return 'tokens should be a positive integer';
  if (!Array.isArray(v.points) || v.points.length < 2) return 'points should be an array of at least 2 points';
  let previous = -1;
  for (const [i, p] of v.points.entries()) {
    if (!isObj(p) || typeof p.threshold !== 'number' || !Number.isFinite(p.threshold)) return `points[${i}].threshold should be a number`;
    if (!(p.threshold > previous) || p.threshold < 0) return `points[${i}].threshold should be >= 0 and above the previous one`;
    if (!frac(p.skip) || !frac(p.attn_skip) || !frac(p.mlp_skip)) return `points[${i}] skip, attn_skip, mlp_skip should be numbers from 0 to 1`;
    previous = p.threshold;
  }
  return undefined;
}
