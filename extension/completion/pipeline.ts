// The inline-completion pipeline in plain data: cache → debounce → request → engine (prompt built and budgeted there,
// streamed, cancellable, stopped early by the multi-line policy) → post-process → cache. A newer request aborts the one in flight, and a result
// whose request was cancelled or superseded is dropped, so a burst of keystrokes never shows a stale suggestion.
// `prime` prefills the engine's cache for a newly focused file in the background, so its first suggestion does not
// wait for the whole prompt to be read. vscode-free: extension/host feeds it editor state and an AbortSignal.
import type { CompleteRequest, CompleteResult, TokenTrace } from '../engine/protocol';
import type { CompletionEngine } from './engineApi';
import { CompletionCache } from './cache';
import { applyPolicy, policyContext, shouldStop } from './multiline';
import { suggestionRequest, type ModelFacts } from './request';
import { effectiveThreshold, type SkipgptSettings } from './settings';

export interface EditorRequest {
  /** Identifies the document (its URI) for the cache. */
  doc: string;
  prefix: string;
  suffix: string;
  languageId: string;
  filename?: string;
  /** Explicit trigger (command / key binding): no debounce. */
  manual?: boolean;
}

export interface PipelineOutcome {
  text?: string;
  source: 'cache' | 'model' | 'none';
  /** Why nothing was produced: 'cancelled' | 'superseded' | 'no-engine' | 'empty' | an error message. */
  reason?: string;
  /** The engine's result (absent when the engine failed after the multi-line policy had its text). */
  result?: CompleteResult;
  /** The request sent to the engine. */
  request?: CompleteRequest;
}

export type PrimeOutcome = 'primed' | 'busy' | 'no-engine' | 'cancelled' | 'superseded' | 'failed';

export interface PipelineDeps {
  engine(): CompletionEngine | undefined;
  settings(): SkipgptSettings;
  /** The loaded model's special tokens and default threshold (LoadInfo). */
  model(): ModelFacts;
  /** Distinguishes cache entries made under other settings or models. */
  cacheContext?(): string;
  onGenerating?(active: boolean): void;
  onResult?(outcome: PipelineOutcome): void;
}

/** Resolves true after `ms`, false as soon as the signal aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(t); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class CompletionPipeline {
  readonly cache = new CompletionCache();
  private seq = 0;
  private inFlight?: AbortController;

  constructor(private readonly deps: PipelineDeps) {}

  async provide(req: EditorRequest, signal: AbortSignal): Promise<PipelineOutcome> {
    const my = ++this.seq;
    this.inFlight?.abort();                  // the user typed on: stop the previous generation in the engine
    const ctrl = new AbortController();
    this.inFlight = ctrl;
    const onOuter = () => ctrl.abort();
    signal.addEventListener('abort', onOuter, { once: true });
    try {
      return await this.run(req, ctrl, my);
    } finally {
      signal.removeEventListener('abort', onOuter);
      if (this.inFlight === ctrl) this.inFlight = undefined;
    }
  }

  private stale(my: number, ctrl: AbortController): 'superseded' | 'cancelled' | undefined {
    if (my !== this.seq) return 'superseded';
    if (ctrl.signal.aborted) return 'cancelled';
    return undefined;
  }

  private async run(req: EditorRequest, ctrl: AbortController, my: number): Promise<PipelineOutcome> {
    const s = this.deps.settings();
    const model = this.deps.model();
    const context = `${this.deps.cacheContext?.() ?? ''}|t=${effectiveThreshold(s, model.thresholdDefault)}|n=${s.maxTokens}|l=${s.maxLines}`;
    const cached = this.cache.get(req.doc, req.prefix, context);
    if (cached !== undefined) return { text: cached, source: 'cache' };

    if (!req.manual && !(await delay(s.debounceMs, ctrl.signal))) return { source: 'none', reason: this.stale(my, ctrl) ?? 'cancelled' };
    const engine = this.deps.engine();
    if (!engine) return { source: 'none', reason: 'no-engine' };

    const request = suggestionRequest(req, s, model);
    const policy = policyContext(req.prefix, req.suffix, s.maxLines);
    let streamed = '';
    let policyStopped = false;
    const engineCtrl = new AbortController();  // aborted by the user (ctrl) or by the policy (enough text)
    const onAbort = () => engineCtrl.abort();
    ctrl.signal.addEventListener('abort', onAbort, { once: true });
    this.deps.onGenerating?.(true);
    let result: CompleteResult | undefined;
    try {
      result = await engine.complete(request, {
        signal: engineCtrl.signal,
        record: () => !ctrl.signal.aborted,
        onToken: (_t: TokenTrace, safe: string) => {
          streamed += safe;
          if (!policyStopped && shouldStop(streamed, policy)) { policyStopped = true; engineCtrl.abort(); }
        },
      });
    } catch (e) {
      const gone = this.stale(my, ctrl);
      if (gone) return { source: 'none', reason: gone, request };
      if (!policyStopped) {
        const outcome: PipelineOutcome = { source: 'none', reason: e instanceof Error ? e.message : String(e), request };
        this.deps.onResult?.(outcome);
        return outcome;
      }
    } finally {
      ctrl.signal.removeEventListener('abort', onAbort);
      this.deps.onGenerating?.(false);
    }
    const gone = this.stale(my, ctrl);
    if (gone) return { source: 'none', reason: gone, result, request };
    // Stopped by the policy, the engine may reject instead of returning its partial result: keep what streamed.
    const raw = policyStopped || !result ? streamed : result.text;
    const text = applyPolicy(raw, policy).text;
    const outcome: PipelineOutcome = text.trim() ? { text, source: 'model', result, request } : { source: 'none', reason: 'empty', result, request };
    if (outcome.text) this.cache.put(req.doc, req.prefix, outcome.text, context);
    this.deps.onResult?.(outcome);
    return outcome;
  }

  /**
   * Prefill the engine's KV cache with the prompt a suggestion at `req` would use, producing nothing: the first
   * suggestion in a newly focused file then only prefills what was typed since (prefix reuse) instead of the whole
   * prompt (a cold 512-token prompt takes ~1 s on a 2-core CPU). Runs only while no suggestion is being computed, and
   * any suggestion request aborts it (the chunks already read stay cached).
   */
  async prime(req: EditorRequest, signal: AbortSignal): Promise<PrimeOutcome> {
    if (this.inFlight) return 'busy';
    const engine = this.deps.engine();
    if (!engine) return 'no-engine';
    const my = this.seq;
    const ctrl = new AbortController();
    this.inFlight = ctrl;
    const onOuter = () => ctrl.abort();
    signal.addEventListener('abort', onOuter, { once: true });
    try {
      // The suggestion's own request with one token: the engine picks the same prompt window, heals as the suggestion
      // will (its healing index is built here, in the background) and caches exactly the prompt the suggestion reuses.
      const result = await engine.complete({ ...suggestionRequest(req, this.deps.settings(), this.deps.model()), maxTokens: 1 },
        { signal: ctrl.signal, record: false, background: true });
      const gone = this.stale(my, ctrl) ?? (result.finishReason === 'cancelled' ? 'cancelled' : undefined);
      return gone ?? 'primed';
    } catch {
      return this.stale(my, ctrl) ?? 'failed';
    } finally {
      signal.removeEventListener('abort', onOuter);
      if (this.inFlight === ctrl) this.inFlight = undefined;
    }
  }
}
