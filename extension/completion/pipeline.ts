// The inline-completion pipeline in plain data: cache → debounce → request → engine (prompt built and budgeted there,
// streamed, cancellable, stopped early by the multi-line policy) → post-process → cache. A newer request aborts the one in flight, and a result
// whose request was cancelled or superseded is dropped, so a burst of keystrokes never shows a stale suggestion.
// What a suggestion spans is chosen for latency (see `run`): one line while typing, a block where one starts.
// `prime` prefills the engine's cache for a newly focused file in the background, so its first suggestion does not
// wait for the whole prompt to be read. vscode-free: extension/host feeds it editor state and an AbortSignal.
import type { CompleteRequest, CompleteResult, TokenTrace } from '../engine/protocol';
import type { CompletionEngine } from './engineApi';
import { CompletionCache } from './cache';
import { applyPolicy, policyContext, shouldStop, startsBlock, type PolicyContext } from './multiline';
import { suggestionRequest, type ModelFacts } from './request';
import type { SkipgptSettings } from './settings';
import { dialKey } from './sparsityDial';

export interface EditorRequest {
  /** Identifies the document (its URI) for the cache. */
  doc: string;
  prefix: string;
  suffix: string;
  languageId: string;
  filename?: string;
  /** Explicit trigger (command / key binding): no debounce. */
  manual?: boolean;
  /** When the text last changed (Date.now()): the debounce counts from the keystroke, not from when the editor asked. */
  typedAt?: number;
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
  /** Milliseconds from asking the engine to this text (model outcomes). */
  engineMs?: number;
  /** The text came before the engine was done (a block's first line, or a line cut at FIRST_TEXT_MS) and it goes on:
   * resolves true once a longer suggestion is in the cache (a new request for the same text gets it), false when
   * there is nothing more or typing stopped it. */
  refined?: Promise<boolean>;
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

/**
 * Engine time after which what has streamed is shown even if its line is not complete; the rest still comes (see
 * `refined`). llama.vscode caps prediction time the same way. Chosen with scripts/bench/keystroke.mjs: on the shared
 * 2-core benchmark machine a step takes 15–35 ms, so a line of 10–20 tokens often misses a 600 ms budget. 150 rather
 * than 200: keystroke → ghost text p50 267 vs 319 ms on a quiet machine, and the line completes sooner too (§0f).
 */
export const FIRST_TEXT_MS = 150;

export class CompletionPipeline {
  readonly cache = new CompletionCache();
  private seq = 0;
  private inFlight?: AbortController;
  /** A suggestion shown early whose engine run goes on (see `refined`), and the text it was asked for. */
  private continuing?: { doc: string; prefix: string; ctrl: AbortController };

  constructor(private readonly deps: PipelineDeps) {}

  async provide(req: EditorRequest, signal: AbortSignal): Promise<PipelineOutcome> {
    const my = ++this.seq;
    // The user typed on: stop the previous generation in the engine. VS Code asking again for the very same text
    // (it does, unprompted) is no typing: a run completing what is shown goes on, and this request gets the cache.
    const c = this.continuing;
    if (!(c && !req.manual && c.doc === req.doc && c.prefix === req.prefix)) { this.inFlight?.abort(); c?.ctrl.abort(); }
    const ctrl = new AbortController();
    this.inFlight = ctrl;
    const onOuter = () => ctrl.abort();
    signal.addEventListener('abort', onOuter, { once: true });
    let goesOn = false;                      // a block generated on in the background stays in flight until it ends
    try {
      const out = await this.run(req, ctrl, my);
      goesOn = out.refined !== undefined;
      return out;
    } finally {
      signal.removeEventListener('abort', onOuter);
      if (!goesOn && this.inFlight === ctrl) this.inFlight = undefined;
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
    const context = `${this.deps.cacheContext?.() ?? ''}|${dialKey(s, model)}|n=${s.maxTokens}|l=${s.maxLines}`;
    const cached = this.cache.get(req.doc, req.prefix, context, req.manual);
    if (cached !== undefined) return { text: cached, source: 'cache' };

    const wait = req.typedAt === undefined ? s.debounceMs : s.debounceMs - (Date.now() - req.typedAt);
    if (!req.manual && !(await delay(wait, ctrl.signal))) return { source: 'none', reason: this.stale(my, ctrl) ?? 'cancelled' };
    const engine = this.deps.engine();
    if (!engine) return { source: 'none', reason: 'no-engine' };

    const request = suggestionRequest(req, s, model);
    const policy = policyContext(req.prefix, req.suffix, s.maxLines);
    // Latency policy (measured: scripts/bench/keystroke.mjs): while typing, a suggestion is the first line, stopped
    // as soon as it is complete; where a block starts that line is shown as soon as it is complete and the rest of
    // the block is generated on in the background (`refined`) until the user types. A line still unfinished after
    // FIRST_TEXT_MS is shown as far as it goes and completed the same way. An explicit request gets it whole.
    const shape: 'whole' | 'block' | 'line' = req.manual ? 'whole' : startsBlock(policy) ? 'block' : 'line';
    const firstLine: PolicyContext = { ...policy, maxLines: 1 };
    const stopAt = shape === 'line' ? firstLine : policy;
    let streamed = '';
    let policyStopped = false;
    let announce: ((text: string) => void) | undefined;
    const first = new Promise<string>((resolve) => { announce = resolve; });
    const engineCtrl = new AbortController();  // aborted by the user (ctrl) or by the policy (enough text)
    const onAbort = () => engineCtrl.abort();
    ctrl.signal.addEventListener('abort', onAbort, { once: true });
    this.deps.onGenerating?.(true);
    const t0 = Date.now();
    const generation = (async (): Promise<{ result?: CompleteResult; error?: unknown }> => {
      try {
        return { result: await engine.complete(request, {
          signal: engineCtrl.signal,
          record: () => !ctrl.signal.aborted,
          onToken: (_t: TokenTrace, safe: string) => {
            streamed += safe;
            if (!policyStopped && shouldStop(streamed, stopAt)) { policyStopped = true; engineCtrl.abort(); }
            if (announce && shape !== 'whole') {
              // Past the time cap, only text worth showing is announced (not the indentation a block starts with).
              const done = shouldStop(streamed, firstLine);
              const text = done || Date.now() - t0 >= FIRST_TEXT_MS ? applyPolicy(streamed, firstLine).text : '';
              if (done || text.trim()) { announce(text); announce = undefined; }
            }
          },
        }) };
      } catch (error) {
        return { error: error ?? 'failed' };
      } finally {
        ctrl.signal.removeEventListener('abort', onAbort);
        this.deps.onGenerating?.(false);
      }
    })();
    // `continued`: completing text already shown, which only an abort stops (a same-text request does not supersede it).
    const settle = ({ result, error }: { result?: CompleteResult; error?: unknown }, continued = false): PipelineOutcome => {
      const gone = continued ? (ctrl.signal.aborted ? 'cancelled' : undefined) : this.stale(my, ctrl);
      if (gone) return { source: 'none', reason: gone, result, request };
      // Stopped by the policy, the engine may reject instead of returning its partial result: keep what streamed.
      if (error !== undefined && !policyStopped) {
        const outcome: PipelineOutcome = { source: 'none', reason: error instanceof Error ? error.message : String(error), request };
        this.deps.onResult?.(outcome);
        return outcome;
      }
      const raw = policyStopped || !result ? streamed : result.text;
      const text = applyPolicy(raw, stopAt).text;
      const outcome: PipelineOutcome = text.trim() ? { text, source: 'model', result, request, engineMs: Date.now() - t0 }
        : { source: 'none', reason: 'empty', result, request };
      if (outcome.text) this.cache.put(req.doc, req.prefix, outcome.text, context, shape === 'line');
      this.deps.onResult?.(outcome);
      return outcome;
    };
    const early = shape !== 'whole' ? await Promise.race([first, generation.then(() => undefined)]) : undefined;
    if (early !== undefined && early.trim() && !this.stale(my, ctrl)) {
      this.cache.put(req.doc, req.prefix, early, context, true);
      const goingOn = { doc: req.doc, prefix: req.prefix, ctrl };
      this.continuing = goingOn;
      const refined = generation.then((g) => settle(g, true)).then((o) => o.text !== undefined && o.text !== early)
        .finally(() => {
          if (this.inFlight === ctrl) this.inFlight = undefined;
          if (this.continuing === goingOn) this.continuing = undefined;
        });
      return { text: early, source: 'model', request, engineMs: Date.now() - t0, refined };
    }
    return settle(await generation);
  }

  /**
   * Prefill the engine's KV cache with the prompt a suggestion at `req` would use, producing nothing: the first
   * suggestion in a newly focused file then only prefills what was typed since (prefix reuse) instead of the whole
   * prompt (a cold 512-token prompt takes ~1 s on a 2-core CPU). Runs only while no suggestion is being computed, and
   * any suggestion request aborts it (the chunks already read stay cached).
   */
  async prime(req: EditorRequest, signal: AbortSignal): Promise<PrimeOutcome> {
    if (this.inFlight || this.continuing) return 'busy';
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
