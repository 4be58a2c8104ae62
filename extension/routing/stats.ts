// Routing statistics from per-token traces: skip rates (attention and MLP apart, per layer), tokens/s, the fraction of
// weights read compared with dense decoding, where a routed run diverges from a dense one, and a session-long
// per-layer accumulator for the inspector. vscode-free.
import type { ModelDims, RoutingTrace, TokenTrace } from '../engine/protocol';

/** A token's routing, with the step time when it was generated (prompt tokens have none). */
type Routed = RoutingTrace & Partial<Pick<TokenTrace, 'ms'>>;
/** The sizes the weights-read model needs (LoadInfo.dims). */
export type ModelSizes = Omit<ModelDims, 'maxPositions'>;

export interface RunSummary {
  tokens: number;
  layers: number;
  tokensPerSec: number;
  msPerToken: number;
  attnSkip: number;
  mlpSkip: number;
  /** Weights read per generated token, routed / dense (1 = nothing saved); undefined without the model's shape. */
  weightsReadFraction?: number;
  perLayerAttnSkip: number[];
  perLayerMlpSkip: number[];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export { median };

/** Parameter counts per sublayer, for the bytes-read model in docs (batch-1 decode is memory-bound). */
export function sublayerWeights(shape: ModelSizes): { qo: number; kv: number; mlp: number; head: number } {
  const q = shape.hidden * shape.heads * shape.headDim;
  const kv = 2 * shape.hidden * shape.kvHeads * shape.headDim;
  return { qo: 2 * q, kv, mlp: 3 * shape.hidden * shape.intermediate, head: shape.vocab * shape.hidden };
}

/** Routed/dense weights read for these tokens. K/V projections always run (the cache needs them, see skipgpt.md). */
export function weightsReadFraction(tokens: readonly Routed[], shape: ModelSizes): number {
  if (tokens.length === 0) return 1;
  const w = sublayerWeights(shape);
  const densePerToken = w.head + shape.layers * (w.qo + w.kv + w.mlp);
  let routed = 0;
  for (const t of tokens) {
    routed += w.head;
    for (let l = 0; l < shape.layers; l++) routed += (t.attn[l] ? w.qo : 0) + w.kv + (t.mlp[l] ? w.mlp : 0);
  }
  return routed / (densePerToken * tokens.length);
}

export function summarize(tokens: readonly Routed[], shape?: ModelSizes, wallMs?: number): RunSummary {
  const layers = shape?.layers ?? (tokens[0]?.attn.length ?? 0);
  const attnSkipped = new Array<number>(layers).fill(0);
  const mlpSkipped = new Array<number>(layers).fill(0);
  let ms = 0;
  for (const t of tokens) {
    ms += t.ms ?? 0;
    for (let l = 0; l < layers; l++) {
      if (!t.attn[l]) attnSkipped[l] += 1;
      if (!t.mlp[l]) mlpSkipped[l] += 1;
    }
  }
  const n = Math.max(1, tokens.length);
  const total = Math.max(1, layers * tokens.length);
  const spent = wallMs ?? ms;
  return {
    tokens: tokens.length,
    layers,
    tokensPerSec: spent > 0 ? (tokens.length * 1000) / spent : 0,
    msPerToken: tokens.length ? spent / tokens.length : 0,
    attnSkip: attnSkipped.reduce((a, b) => a + b, 0) / total,
    mlpSkip: mlpSkipped.reduce((a, b) => a + b, 0) / total,
    weightsReadFraction: shape ? weightsReadFraction(tokens, shape) : undefined,
    perLayerAttnSkip: attnSkipped.map((c) => c / n),
    perLayerMlpSkip: mlpSkipped.map((c) => c / n),
  };
}

/** Index of the first token where the routed run differs from the dense run; -1 when one is a prefix of the other. */
export function firstDivergence(routed: readonly { id: number }[], dense: readonly { id: number }[]): number {
  const n = Math.min(routed.length, dense.length);
  for (let i = 0; i < n; i++) if (routed[i].id !== dense[i].id) return i;
  return -1;
}

/** Skip counts per layer over every token seen this session (the inspector's bars). */
export class SessionStats {
  tokens = 0;
  attnSkipped: number[] = [];
  mlpSkipped: number[] = [];

  add(tokens: readonly Routed[]): void {
    for (const t of tokens) {
      const L = t.attn.length;
      if (this.attnSkipped.length !== L) { this.attnSkipped = new Array(L).fill(0); this.mlpSkipped = new Array(L).fill(0); this.tokens = 0; }
      this.tokens += 1;
      for (let l = 0; l < L; l++) {
        if (!t.attn[l]) this.attnSkipped[l] += 1;
        if (!t.mlp[l]) this.mlpSkipped[l] += 1;
      }
    }
  }

  rates(): { tokens: number; attn: number[]; mlp: number[] } {
    const n = Math.max(1, this.tokens);
    return { tokens: this.tokens, attn: this.attnSkipped.map((c) => c / n), mlp: this.mlpSkipped.map((c) => c / n) };
  }
}
