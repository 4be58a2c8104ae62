// A scripted CompletionEngine for unit tests: streams given token texts with a delay, honours the abort signal the
// way EngineClient does (stops before the next token, resolves 'cancelled'), and records every request and whether it
// was aborted. Typed with the engine's own protocol types, like the real one.
import type { CompleteOptions, CompletionEngine } from '../../../extension/completion/engineApi';
import type { CompleteRequest, CompleteResult, TokenTrace } from '../../../extension/engine/protocol';

export function trace(text: string, id = 1, layers = 4, skipEvery = 2): TokenTrace {
  const attn = new Uint8Array(layers), mlp = new Uint8Array(layers);
  const pAttn = new Float32Array(layers), pMlp = new Float32Array(layers);
  for (let l = 0; l < layers; l++) {
    attn[l] = l % skipEvery === 0 ? 0 : 1; mlp[l] = 1;
    pAttn[l] = attn[l] ? 0.9 : 0.1; pMlp[l] = 0.8;
  }
  return { id, text, attn, mlp, pAttn, pMlp, ms: 10 };
}

export class FakeEngine implements CompletionEngine {
  requests: CompleteRequest[] = [];
  /** The options of each request (background / record flags). */
  options: CompleteOptions[] = [];
  aborted = 0;
  /** What each run's `record` option said when it ended (whether the host would show it as the latest trace). */
  recorded: boolean[] = [];
  finished = 0;
  constructor(public script: (req: CompleteRequest) => string[], public stepMs = 5, public fail?: string) {}

  async complete(req: CompleteRequest, opts: CompleteOptions = {}): Promise<CompleteResult> {
    this.requests.push(req);
    this.options.push(opts);
    if (this.fail) throw new Error(this.fail);
    const tokens: TokenTrace[] = [];
    let cancelled = false;
    for (const text of this.script(req)) {
      await new Promise((r) => setTimeout(r, this.stepMs));
      if (opts.signal?.aborted) { this.aborted += 1; cancelled = true; break; }
      if (tokens.length >= (req.maxTokens ?? 32)) break;
      const t = trace(text, [...text].reduce((h, ch) => h * 31 + ch.charCodeAt(0), 7) % 49152);   // id follows the text
      tokens.push(t);
      opts.onToken?.(t, text);
    }
    this.finished += 1;
    this.recorded.push(typeof opts.record === 'function' ? opts.record() : opts.record !== false);
    const n = tokens.length;
    return { text: tokens.map((t) => t.text).join(''), tokens, finishReason: cancelled ? 'cancelled' : 'length',
      threshold: req.threshold ?? 0.5, timings: { reusedTokens: 0, prefillTokens: 1, prefillMs: this.stepMs, decodeTokens: Math.max(0, n - 1),
        decodeMs: Math.max(0, n - 1) * this.stepMs, decodeTokPerS: n > 1 ? 1000 / this.stepMs : NaN, totalMs: n * this.stepMs,
        draftedTokens: 0, acceptedTokens: 0 } };
  }
}
