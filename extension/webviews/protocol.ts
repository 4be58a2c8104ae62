// Messages between the host and the two webviews (skip-rate panel, routing inspector), as one typed map each way,
// plus the strict validator the host applies to everything a webview posts. Imported by both sides: no vscode, no
// DOM, no Node.
import { SKIP_ALL_THRESHOLD } from '../completion/settings';
import type { TokenTrace } from '../engine/protocol';

/** A token as the webviews see it: plain arrays, probabilities rounded to 3 decimals. */
export interface TokenView {
  i: number;
  id: number;
  text: string;
  attn: number[];
  mlp: number[];
  pAttn: number[];
  pMlp: number[];
  ms: number;
}

export interface SummaryView {
  tokens: number;
  tokensPerSec: number;
  attnSkip: number;
  mlpSkip: number;
  weightsReadFraction: number | null;
}

export type RunKind = 'routed' | 'dense';

export type HostToWebview =
  /** After `ready` and when the model or the sparsity settings change: what the webview renders against.
   * `threshold`: the one in effect (a target rate mapped through the calibration, the setting, else the model's
   * default); `maxThreshold`: "skip all"; `target`: the target skip rate requests ask for (null: they give a threshold);
   * `expected`: the calibration's skip rate at `threshold`; `calibrated`: the model has a calibration, so the
   * inspector's slider speaks in skip rates; `routing`: all of it in words (completion/sparsityDial.ts). */
  | { type: 'init'; layers: number; threshold: number | null; maxThreshold: number; model: string;
      target: number | null; expected: number | null; calibrated: boolean; routing: string }
  /** Panel: a run begins; tokens follow as they are generated. `target`: its target skip rate, if it asked for one. */
  | { type: 'runStart'; runId: number; kind: RunKind; prompt: string; threshold: number; target: number | null }
  | { type: 'token'; runId: number; kind: RunKind; token: TokenView }
  /** `divergence`: first token index where routed and dense differ (-1 none), on the dense run's end. */
  | { type: 'runEnd'; runId: number; kind: RunKind; summary: SummaryView; divergence?: number }
  /** Inspector: the latest completion's full trace and the session's per-layer skip rates; `promptSummary` when the
   * run traced its prompt (the inspector's own re-runs do). */
  | { type: 'trace'; prompt: string; threshold: number; tokens: TokenView[]; summary: SummaryView;
      /** The run's target skip rate (its request's skipRate), and the calibration's skip rate at its threshold. */
      target: number | null; expected: number | null;
      promptSummary?: { tokens: number; attnSkip: number; mlpSkip: number };
      session: { tokens: number; attn: number[]; mlp: number[] } }
  | { type: 'error'; message: string };

export type WebviewToHost =
  /** The script has loaded and listens: the host may send `init` (the ready handshake). */
  | { type: 'ready'; view: 'panel' | 'inspector' }
  /** Panel's Run button: complete from the selection or the cursor's prefix, optionally with a dense run beside. */
  | { type: 'run'; withDense: boolean }
  /** Inspector's slider: re-run the last prompt at this threshold, or (a calibrated model) at this target skip rate. */
  | { type: 'rerun'; threshold: number }
  | { type: 'rerun'; skipRate: number }
  | { type: 'export'; format: 'json' | 'csv' };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const keysOk = (o: Record<string, unknown>, keys: string[]) => Object.keys(o).every((k) => keys.includes(k));

/** Returns the message if it is exactly one of the WebviewToHost shapes, else undefined (and the host ignores it). */
export function parseWebviewMessage(x: unknown): WebviewToHost | undefined {
  if (!isObj(x) || typeof x.type !== 'string') return undefined;
  switch (x.type) {
    case 'ready':
      return keysOk(x, ['type', 'view']) && (x.view === 'panel' || x.view === 'inspector') ? { type: 'ready', view: x.view } : undefined;
    case 'run':
      return keysOk(x, ['type', 'withDense']) && typeof x.withDense === 'boolean' ? { type: 'run', withDense: x.withDense } : undefined;
    case 'rerun':
      if (keysOk(x, ['type', 'skipRate']) && typeof x.skipRate === 'number' && x.skipRate >= 0 && x.skipRate <= 1) return { type: 'rerun', skipRate: x.skipRate };
      return keysOk(x, ['type', 'threshold']) && typeof x.threshold === 'number' && Number.isFinite(x.threshold) && x.threshold >= 0 && x.threshold <= SKIP_ALL_THRESHOLD
        ? { type: 'rerun', threshold: x.threshold } : undefined;
    case 'export':
      return keysOk(x, ['type', 'format']) && (x.format === 'json' || x.format === 'csv') ? { type: 'export', format: x.format } : undefined;
    default:
      return undefined;
  }
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function tokenView(t: TokenTrace, i: number): TokenView {
  return { i, id: t.id, text: t.text, attn: Array.from(t.attn, (v) => (v ? 1 : 0)), mlp: Array.from(t.mlp, (v) => (v ? 1 : 0)),
    pAttn: Array.from(t.pAttn, r3), pMlp: Array.from(t.pMlp, r3), ms: Math.round(t.ms * 100) / 100 };
}
