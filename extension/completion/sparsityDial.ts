// The sparsity dial on the host side: what a request carries (a target skip rate when the user set one and the
// loaded model has a calibration, else a threshold), how the status bar, panel and inspector word it, and the items of
// "SkipGPT: Set Sparsity". vscode-free. The mapping itself is the engine's (engine/sparsity.ts, fed with
// LoadInfo.calibration), so what the host shows and what the engine runs come from the same curve.
import type { Calibration, CompleteRequest } from '../engine/protocol';
import { NO_CALIBRATION, skipRateForThreshold, thresholdForSkipRate, type Clamp } from '../engine/sparsity';
import { effectiveThreshold, MAX_SKIP_RATE, SKIP_ALL_THRESHOLD, sparsityPresets, type SkipgptSettings } from './settings';

/** What the host knows of the loaded model (LoadInfo); both undefined before a model is loaded. */
export interface ModelSparsity { thresholdDefault?: number; calibration?: Calibration | null }

type DialSettings = Pick<SkipgptSettings, 'threshold' | 'skipRate' | 'denseMode'>;

/** The sparsity in effect, resolved against the loaded model. */
export interface Dial {
  /** What a request carries: `skipRate` (the engine maps it) or `threshold` (undefined: the engine's default). */
  request: Pick<CompleteRequest, 'threshold' | 'skipRate'>;
  /** The target skip rate the request asks for, when it asks for one. */
  target?: number;
  /** The threshold the run uses: given, or the target mapped through the calibration; undefined before a model loads. */
  threshold?: number;
  /** The calibration's skip rate at `threshold` (undefined without calibration). */
  expected?: number;
  /** The target was outside the calibrated range and the nearest reachable end was taken. */
  clamped?: Clamp;
  /** Set when a skip rate is configured but the model cannot honour it: why the threshold is used instead. */
  fallback?: string;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
/** Thresholds to 3 significant digits (calibrated ones are long floats). */
export const fmtThreshold = (t: number) => (t === 0 || t >= 0.001 ? String(Number(t.toPrecision(3))) : t.toExponential(1));

/** The calibrated skip rate at a threshold, or undefined when the model has none. */
export function expectedAt(cal: Calibration | null | undefined, threshold: number): number | undefined {
  return cal ? skipRateForThreshold({ router: { calibration: cal } }, threshold).skip : undefined;
}

/** Resolves the settings against the model: dense mode wins, then a calibrated target rate, then the threshold. */
export function resolveDial(s: DialSettings, model: ModelSparsity): Dial {
  const cal = model.calibration;
  if (!s.denseMode && s.skipRate !== null && cal) {
    const m = thresholdForSkipRate({ router: { calibration: cal } }, s.skipRate);
    return { request: { skipRate: s.skipRate }, target: s.skipRate, threshold: m.threshold, expected: m.expected, clamped: m.clamped };
  }
  const threshold = effectiveThreshold(s, model.thresholdDefault);
  const dial: Dial = { request: { threshold }, threshold };
  if (threshold !== undefined) dial.expected = expectedAt(cal, threshold);
  // Only once the model is known to lack a calibration (null): before it loads nothing runs anyway.
  if (!s.denseMode && s.skipRate !== null && cal === null) {
    dial.fallback = `skipgpt.skipRate ${pct(s.skipRate)} is not used: ${NO_CALIBRATION}. Using ` +
      `${threshold === undefined ? "the model's default threshold" : `threshold ${fmtThreshold(threshold)}`} instead.`;
  }
  return dial;
}

/** One line for the status bar's tooltip and the webviews: "target skip 30% (threshold 0.00227)" / "threshold 0.5 (≈27% skipped …)". */
export function describeDial(d: Dial): string {
  if (d.threshold === 0 && d.target === undefined) return 'dense';
  if (d.target !== undefined) {
    const t = d.threshold === undefined ? '' : ` (threshold ${fmtThreshold(d.threshold)}${d.clamped ? `, clamped: expect ${pct(d.expected ?? 0)}` : ''})`;
    return `target skip ${pct(d.target)}${t}`;
  }
  if (d.threshold === undefined) return "the model's default threshold";
  const exp = d.expected === undefined || d.threshold > 1 ? '' : ` (≈${pct(d.expected)} skipped on held-out code)`;
  return `threshold ${fmtThreshold(d.threshold)}${exp}`;
}

/** What picking an item writes to the `skipRate` and `threshold` settings (null = cleared; no `threshold` = left as is,
 * the fallback for a model without calibration), or that it asks for a typed value. */
export type SparsityChoice = { skipRate: number | null; threshold?: number | null } | 'custom-rate' | 'custom-threshold';

export interface SparsityItem { label: string; description: string; detail: string; choice: SparsityChoice }

/** Named target rates of "Set Sparsity" (the default model holds 10–40% within ±3 points: docs/EVALUATION.md). */
export const RATE_PRESETS: readonly { name: string; rate: number }[] = [
  { name: 'Dense', rate: 0 }, { name: 'Light', rate: 0.1 }, { name: 'Balanced', rate: 0.2 },
  { name: 'Fast', rate: 0.3 }, { name: 'Fastest', rate: 0.4 },
];

/** The quick pick of "Set Sparsity": rate presets with what the calibration expects, or thresholds only (and why). */
export function sparsityItems(model: ModelSparsity, s: DialSettings): { items: SparsityItem[]; note?: string } {
  const cal = model.calibration;
  const now = describeDial(resolveDial({ ...s, denseMode: false }, model));
  const customThreshold: SparsityItem = { label: 'Custom threshold…', description: `now ${now}`,
    detail: `type a router threshold between 0 (dense) and ${SKIP_ALL_THRESHOLD} (skip all)`, choice: 'custom-threshold' };
  if (!cal) {
    const items: SparsityItem[] = sparsityPresets(model.thresholdDefault).map((p) => ({ label: p.label,
      description: p.threshold === null ? String(model.thresholdDefault ?? 'default') : String(p.threshold), detail: p.detail,
      choice: { skipRate: null, threshold: p.threshold } }));
    const note = cal === null ? `This model has no skip-rate calibration, so sparsity is set by threshold (${NO_CALIBRATION}).`
      : 'No model is loaded yet, so sparsity is set by threshold; skip-rate presets need the model\'s calibration.';
    return { items: [...items, customThreshold], note };
  }
  const rateItem = (name: string, rate: number): SparsityItem => {
    const m = thresholdForSkipRate({ router: { calibration: cal } }, rate);
    const clamp = m.clamped ? `; this model's calibrated range is ${pct(m.range[0])}–${pct(m.range[1])}, nearest reachable` : '';
    return { label: `${name} ${pct(rate)}`, description: rate === 0 ? 'every sublayer runs' : `target skip ${pct(rate)}`,
      detail: `expected ${pct(m.expected)} skipped at threshold ${fmtThreshold(m.threshold)}${clamp} (calibrated on held-out code)`,
      choice: { skipRate: rate } };
  };
  const [dense, ...rates] = RATE_PRESETS;
  const td = model.thresholdDefault;
  // The manifest's default threshold: 0.5 as trained, or the operating point the build chose (--default-skip-rate).
  const trained: SparsityItem = { label: 'Model default', description: td === undefined ? "the model's default threshold" : `threshold ${fmtThreshold(td)}`,
    detail: td === undefined ? 'the model\'s own operating point' : `the model's own operating point: measured ${pct(expectedAt(cal, td) ?? 0)} skipped at the manifest's default threshold ${fmtThreshold(td)}`,
    choice: { skipRate: null, threshold: null } };
  const items = [...rates.slice(0, 2).map((p) => rateItem(p.name, p.rate)), trained, ...rates.slice(2).map((p) => rateItem(p.name, p.rate)),
    rateItem(dense.name, dense.rate),
    { label: 'Custom skip rate…', description: `now ${now}`, detail: `type a target share of sublayers to skip, 0–${pct(MAX_SKIP_RATE)} (e.g. 25 or 25%)`,
      choice: 'custom-rate' as const },
    customThreshold];
  return { items };
}

/** Accepts a typed target skip rate as a percentage ("25", "25%", "12.5 %") and returns it as a fraction. */
export function parseSkipRateInput(text: string): { value?: number; error?: string } {
  const t = text.trim();
  const hasPct = t.endsWith('%');
  const v = Number(hasPct ? t.slice(0, -1).trim() : t);
  const max = Math.round(MAX_SKIP_RATE * 100);
  if (t === '' || (hasPct && t.length === 1) || !Number.isFinite(v)) return { error: `Enter a percentage from 0 to ${max}, e.g. 25 or 25%.` };
  // "0.25" is most likely meant as a fraction: ask rather than run at a quarter of a percent.
  if (!hasPct && v > 0 && v < 1) return { error: `Enter a percentage: ${Math.round(v * 100)} means ${Math.round(v * 100)}% (or type ${v}% for ${v}%).` };
  if (v < 0 || v > max) return { error: `${v}% is outside 0–${max}%.` };
  return { value: Math.round(v * 10) / 1000 };
}

/** The item a label names (the command's scripted form `{ preset: 'Fast 30%' }`), matched without case. */
export function findItem(items: readonly SparsityItem[], label: string): SparsityItem | undefined {
  const want = label.trim().toLowerCase();
  return items.find((i) => i.label.toLowerCase() === want) ?? items.find((i) => i.label.toLowerCase().startsWith(want));
}

/** The sparsity part of a suggestion cache key: one cached at one setting is not served at another. */
export function dialKey(s: DialSettings, model: ModelSparsity): string {
  const r = resolveDial(s, model).request;
  return r.skipRate !== undefined ? `r${r.skipRate}` : `t${r.threshold}`;
}
