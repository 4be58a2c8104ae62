// The inline-completion pipeline in plain data: cache → debounce → prompt → engine (streamed, cancellable, stopped
// early by the multi-line policy) → post-process → cache. A newer request aborts the one in flight, and a result
// whose request was cancelled or superseded is dropped, so a burst of keystrokes never shows a stale suggestion.
// `prime` prefills the engine's cache for a newly focused file in the background, so its first suggestion does not
// wait for the whole prompt to be read. vscode-free: extension/host feeds it editor state and an AbortSignal.
import type { CompleteResult, CompletionEngine } from './engineApi';
import { CompletionCache } from './cache';
import { applyPolicy, policyContext, shouldStop } from './multiline';
import { buildPrompt, stopSequences, type BuiltPrompt } from './prompt';
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
  result?: CompleteResult;
  prompt?: BuiltPrompt;
}

export type PrimeOutcome = 'primed' | 'busy' | 'no-engine' | 'cancelled' | 'superseded' | 'failed';

export interface PipelineDeps {
  engine(): CompletionEngine | undefined;
  settings(): SkipgptSettings;
  specialTokens(): readonly string[];
  countTokens?(): ((text: string) => number) | undefined;
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
  /** Characters per prompt token, learned from what the engine reports it tokenized (the host has no tokenizer on its
   * thread); starts conservative and moves in 0.25 steps so anchored prompt starts stay put between keystrokes. */
  charsPerToken = 3;
  /** Background prefills that ran to the end (read by the tests). */
  primes = 0;
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
    const context = `${this.deps.cacheContext?.() ?? ''}|t=${effectiveThreshold(s)}|n=${s.maxTokens}|l=${s.maxLines}`;
    const cached = this.cache.get(req.doc, req.prefix, context);
    if (cached !== undefined) return { text: cached, source: 'cache' };

    if (!req.manual && !(await delay(s.debounceMs, ctrl.signal))) return { source: 'none', reason: this.stale(my, ctrl) ?? 'cancelled' };
    const engine = this.deps.engine();
    if (!engine) return { source: 'none', reason: 'no-engine' };

    const special = this.deps.specialTokens();
    const prompt = this.promptFor(req, s);
    const policy = policyContext(req.prefix, req.suffix, s.maxLines);
    let streamed = '';
    const tokens: CompleteResult['tokens'] = [];
    const t0 = Date.now();
    let policyStopped = false;
    const engineCtrl = new AbortController();  // aborted by the user (ctrl) or by the policy (enough text)
    const onAbort = () => engineCtrl.abort();
    ctrl.signal.addEventListener('abort', onAbort, { once: true });
    this.deps.onGenerating?.(true);
    let result: CompleteResult | undefined;
    try {
      result = await engine.complete(
        { prompt: prompt.prompt, maxTokens: s.maxTokens, threshold: effectiveThreshold(s), temperature: 0, stop: stopSequences(special),
          draftTokens: s.draftTokens, heal: true },  // the prompt ends at the cursor: heal the token it splits
        {
          signal: engineCtrl.signal,
          record: () => !ctrl.signal.aborted,
          onToken: (t, safe) => {
            streamed += safe ?? t.text;
            tokens.push(t);
            if (!policyStopped && shouldStop(streamed, policy)) { policyStopped = true; engineCtrl.abort(); }
          },
        });
    } catch (e) {
      const gone = this.stale(my, ctrl);
      if (gone) return { source: 'none', reason: gone, prompt };
      if (!policyStopped) {
        const outcome: PipelineOutcome = { source: 'none', reason: e instanceof Error ? e.message : String(e), prompt };
        this.deps.onResult?.(outcome);
        return outcome;
      }
    } finally {
      ctrl.signal.removeEventListener('abort', onAbort);
      this.deps.onGenerating?.(false);
    }
    const gone = this.stale(my, ctrl);
    if (gone) return { source: 'none', reason: gone, result, prompt };
    // Stopped by the policy, the engine may reject instead of returning its partial result: keep what streamed.
    result ??= { text: streamed, tokens, totalMs: Date.now() - t0, finishReason: 'policy' };
    const raw = policyStopped ? streamed : result.text;
    const text = applyPolicy(raw, policy).text;
    const outcome: PipelineOutcome = text.trim() ? { text, source: 'model', result, prompt } : { source: 'none', reason: 'empty', result, prompt };
    if (outcome.text) this.cache.put(req.doc, req.prefix, outcome.text, context);
    this.learnTokenRatio(prompt.prompt, result);
    this.deps.onResult?.(outcome);
    return outcome;
  }

  /**
   * Prefill the engine's KV cache with the prompt a suggestion at `req` would use, producing nothing: the first
   * suggestion in a newly focused file then only prefills what was typed since (prefix reuse) instead of the whole
   * prompt (a cold 512-token prompt takes ~1 s on a 2-core CPU). Runs only while no suggestion is being computed, and
   * any suggestion request aborts it (the chunks already read stay cached). It does not update the characters-per-
   * token estimate: that would move the start of the next prompt away from the one just cached.
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
      const s = this.deps.settings();
      const result = await engine.complete(
        // heal as the suggestion will: the engine builds its healing index here, in the background, and caches
        // exactly the backed-up prompt the suggestion reuses.
        { prompt: this.promptFor(req, s).prompt, maxTokens: 1, threshold: effectiveThreshold(s), temperature: 0, heal: true },
        { signal: ctrl.signal, record: false, background: true });
      const gone = this.stale(my, ctrl) ?? (result.finishReason === 'cancelled' ? 'cancelled' : undefined);
      if (gone) return gone;
      this.primes += 1;
      return 'primed';
    } catch {
      return this.stale(my, ctrl) ?? 'failed';
    } finally {
      signal.removeEventListener('abort', onOuter);
      if (this.inFlight === ctrl) this.inFlight = undefined;
    }
  }

  private promptFor(req: EditorRequest, s: SkipgptSettings): BuiltPrompt {
    const cpt = this.charsPerToken;
    const count = this.deps.countTokens?.() ?? ((text: string) => Math.ceil(text.length / cpt));
    return buildPrompt(req, { budgetTokens: s.promptTokens, countTokens: count, specialTokens: this.deps.specialTokens() });
  }

  /** Updates charsPerToken from a finished request's token count (reused + prefilled prompt tokens). */
  learnTokenRatio(prompt: string, result: CompleteResult | undefined): void {
    const t = result?.timings;
    const tokens = t ? t.reusedTokens + t.prefillTokens : 0;
    if (tokens < 16 || prompt.length < 64) return;           // too short to say anything about the tokenizer
    const ratio = prompt.length / tokens;
    // Slightly below the observed ratio (whitespace-heavy code tokenizes worse), in 0.25 steps, within 2…6.
    const next = Math.min(6, Math.max(2, Math.floor(((this.charsPerToken + ratio) / 2) * 0.95 * 4) / 4));
    this.charsPerToken = next;
  }
}
