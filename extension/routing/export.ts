// Trace export for the routing inspector: JSON (the whole run) and CSV (one row per token × layer). vscode-free.
import type { CompleteRequest, RoutingTrace, TokenTrace } from '../engine/protocol';

export interface TraceRecord {
  /** The prompt's text as the model read it (for a prefix request: the window the engine chose). */
  prompt: string;
  /** The request that produced it, so the inspector can run it again at another threshold. */
  request: CompleteRequest;
  threshold: number;
  model?: string;
  tokens: readonly TokenTrace[];
  /** Routing of the prompt's tokens, when the request asked for it (the inspector's re-runs do). */
  promptTokens?: readonly RoutingTrace[];
}

const arr = (a: ArrayLike<number>) => Array.from(a, (x) => Math.round(x * 1e6) / 1e6);

export function traceToJson(r: Omit<TraceRecord, 'request'>): string {
  return JSON.stringify({
    format: 'skipgpt-trace', version: 1, model: r.model ?? null, threshold: r.threshold, prompt: r.prompt,
    tokens: r.tokens.map((t, i) => ({ index: i, id: t.id, text: t.text, ms: t.ms,
      attn: Array.from(t.attn, Number), mlp: Array.from(t.mlp, Number), pAttn: arr(t.pAttn), pMlp: arr(t.pMlp) })),
  }, null, 1);
}

/** RFC 4180 quoting: token texts contain commas, quotes and newlines. */
const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function traceToCsv(r: Omit<TraceRecord, 'request'>): string {
  const rows = ['token_index,token_id,token_text,layer,attn_executed,mlp_executed,p_attn,p_mlp,ms'];
  r.tokens.forEach((t, i) => {
    for (let l = 0; l < t.attn.length; l++) {
      rows.push([i, t.id, csvField(t.text), l, t.attn[l] ? 1 : 0, t.mlp[l] ? 1 : 0,
        Number(t.pAttn[l]).toFixed(6), Number(t.pMlp[l]).toFixed(6), t.ms.toFixed(3)].join(','));
    }
  });
  return rows.join('\n') + '\n';
}
