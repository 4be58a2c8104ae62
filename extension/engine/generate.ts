// Generator: prompt → tokens on a ModelRunner. Prefix reuse (only the tokens after the shared prefix with the
// cached sequence are prefilled), chunked prefill, greedy / top-p sampling, stop sequences, EOS, max tokens,
// cancellation between tokens, prompt-lookup speculative decoding (greedy), and a routing trace for every prompt
// and generated token.
import { join } from 'node:path';
import { clipForTokens, Detokenizer } from './tokenizer';
import type { CompleteRequest, CompleteResult, FinishReason, RoutingTrace, TokenTrace } from './protocol';
import type { ModelRunner, StepResult } from './runner';
import { addedTokenIds, Healer, healVocabFor, planHealing } from './healing';
import { findDraft } from './lookup';
import { PromptWindowPlanner } from './promptWindow';
import { sample, seededRandom } from './sampling';
import { resolveThreshold } from './sparsity';
import { StopFilter } from './stops';
import { validateRequest } from './validate';

/**
 * Tokens per prefill step. Each step's attention scores are [heads, chunk, cache + chunk] floats, so the chunk sets
 * onnxruntime's arena peak; measured on the 8-bit default model with a ~1,000-token file (docs/BENCHMARKS.md),
 * 64 beat 256 on cold prefill time (2.4 vs 2.6 s) and on memory (-70 MiB RSS), and 32 was slower again.
 */
export const DEFAULT_PREFILL_CHUNK = 64;

export interface GenerateHooks {
  /** Polled before every forward step after the first token: true stops the request (reason 'cancelled'). */
  isCancelled?: () => boolean;
  /** Each generated token, with the completion text that became safe to show (stop text held back). */
  onToken?: (token: TokenTrace, text: string) => void;
}

/** Build routing of one position from its [L, 2] router_probs row. Decisions are recomputed exactly in float32. */
export function routing(id: number, text: string, probs: Float32Array, threshold: number): RoutingTrace {
  const L = probs.length / 2, thr = Math.fround(threshold);
  const pAttn = new Float32Array(L), pMlp = new Float32Array(L), attn = new Uint8Array(L), mlp = new Uint8Array(L);
  for (let l = 0; l < L; l++) {
    pAttn[l] = probs[2 * l]; pMlp[l] = probs[2 * l + 1];
    attn[l] = pAttn[l] >= thr ? 1 : 0; mlp[l] = pMlp[l] >= thr ? 1 : 0;
  }
  return { id, text, attn, mlp, pAttn, pMlp };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Generator {
  /** Token ids whose K/V are in the cache (always runner.cache.length long) and their router probs rows. */
  private seq: number[] = [];
  private seqProbs: Float32Array[] = [];
  /** Prompt traces built so far for cached positions (all under seqThreshold), so a reused prefix costs nothing. */
  private seqTraces: (RoutingTrace | undefined)[] = [];
  /** The threshold the cached K/V were computed under: other thresholds give other hidden states, so no reuse. */
  private seqThreshold = NaN;
  /** Where the prompt of an editor request (prefix + budget) starts: kept put while it fits, for prefix reuse. */
  private windows?: PromptWindowPlanner;
  /** The window promptIds chose for the request being prepared. */
  private lastWindow?: { header: string; start: number };

  /** `drafter` guesses the tokens after a sequence for request.draftTokens (prompt lookup; tests pass oracles). */
  constructor(readonly runner: ModelRunner, readonly prefillChunk = DEFAULT_PREFILL_CHUNK,
    private readonly drafter: (seq: readonly number[], max: number) => number[] = findDraft) {
    if (!(prefillChunk >= 1)) throw new Error(`prefillChunk must be >= 1, got ${prefillChunk}`);
  }

  /** Prompt ids: `prompt`, or `prefix` (FIM prefix-suffix-middle when the vocabulary has FIM tokens). */
  promptIds(req: CompleteRequest): number[] {
    const tok = this.runner.tokenizer, st = this.runner.manifest.special_tokens;
    validateRequest(req, this.runner.manifest.dims);
    if (req.ids) return req.ids.length > 0 ? [...req.ids] : [st.bos_id ?? st.eos_id];
    const fim = st.fim ? fimIds(st.fim) : undefined;
    let ids: number[];
    // Only this many characters can reach the model's positions: cut before tokenizing (a huge file costs nothing).
    const chars = this.runner.manifest.dims.max_positions * tok.maxTokenChars;
    if (req.prefix !== undefined && req.suffix !== undefined && fim) {
      ids = [fim.prefix, ...tok.encode(clipForTokens(req.prefix, chars, 'end')), fim.suffix,
        ...tok.encode(clipForTokens(req.suffix, chars, 'start')), fim.middle];
    } else if (req.prefix !== undefined && (req.budget !== undefined || req.filename !== undefined)) {
      // An editor request: header + the end of the prefix within the budget, from a start that stays put.
      this.windows ??= new PromptWindowPlanner(tok, st.code?.['<filename>'] !== undefined);
      const text = clipForTokens(req.prefix, chars, 'end');
      const w = this.windows.plan(text, req.filename, req.budget ?? this.runner.manifest.dims.max_positions);
      this.lastWindow = { header: w.header, start: w.start + req.prefix.length - text.length };
      ids = w.ids;
    } else {
      // Without FIM tokens the model only sees the text before the cursor; the suffix cannot be used.
      ids = tok.encode(clipForTokens(req.prompt ?? req.prefix ?? '', chars, 'end'));
    }
    // An empty document still needs one token to predict from.
    return ids.length > 0 ? ids : [st.bos_id ?? st.eos_id];
  }

  /**
   * Token healing for this request (healing.ts): on by default for `prefix` requests, by `heal: true` for `prompt`
   * ones; never for `ids` or a fill-in-the-middle layout (the prefix's end is not the prompt's end there).
   */
  private healer(req: CompleteRequest, ids: readonly number[]): Healer | undefined {
    if (!(req.heal ?? req.prefix !== undefined) || req.ids !== undefined) return undefined;
    const st = this.runner.manifest.special_tokens;
    if (req.prefix !== undefined && req.suffix !== undefined && st.fim && fimIds(st.fim)) return undefined;
    const tok = this.runner.tokenizer;
    const vocab = healVocabFor(tok, this.runner.vocab, () => this.specialIds());
    const plan = planHealing(ids, tok, vocab);
    return plan ? new Healer(vocab, plan) : undefined;
  }

  /** Special and added token ids (never generated to heal). */
  private specialIds(): number[] {
    const st = this.runner.manifest.special_tokens;
    const ids = [st.bos_id, st.eos_id, st.pad_id, ...Object.values(st.code ?? {}), ...Object.values(st.fim ?? {})];
    const folder = this.runner.manifest.files.tokenizer;
    return [...ids.filter((x): x is number => typeof x === 'number'), ...addedTokenIds(join(this.runner.dir, folder))];
  }

  /** Forget the cached sequence (the next request prefills from scratch). */
  reset(): void {
    this.runner.cache.truncate(0);
    this.seq = []; this.seqProbs = []; this.seqTraces = []; this.seqThreshold = NaN;
  }

  async complete(req: CompleteRequest, hooks: GenerateHooks = {}): Promise<CompleteResult> {
    const started = performance.now();
    const m = this.runner.manifest;
    validateRequest(req, m.dims);
    const maxTokens = req.maxTokens ?? 32;
    const threshold = resolveThreshold(m, req);  // a skipRate goes through the folder's calibration
    this.lastWindow = undefined;
    let ids = this.promptIds(req);
    const window = this.lastWindow;
    // Keep the end of a prompt that would not leave room for the completion (the cursor end matters most).
    if (ids.length + maxTokens > m.dims.max_positions) ids = ids.slice(ids.length - (m.dims.max_positions - maxTokens));
    const healer = this.healer(req, ids);
    if (healer) ids = ids.slice(0, healer.plan.keep);

    // ---- prefill, reusing the cached prefix ----
    let common = 0;
    if (req.reusePrefix !== false && Math.fround(threshold) === Math.fround(this.seqThreshold)) {
      const limit = Math.min(this.seq.length, ids.length - 1); // at least one token must run to get logits
      while (common < limit && this.seq[common] === ids[common]) common++;
    }
    this.truncateTo(common);
    this.seqThreshold = threshold;
    const prefillStart = performance.now();
    let last: StepResult | undefined;
    for (let at = common; at < ids.length; at += this.prefillChunk) {
      if (at > common) {
        // As between decode steps: let a cancel message reach the engine process before the next chunk.
        await yieldToEventLoop();
        if (hooks.isCancelled?.()) return this.cancelledEarly(threshold, common, started);
      }
      last = await this.feed(ids.slice(at, at + this.prefillChunk), threshold);
    }
    const prefillMs = performance.now() - prefillStart;

    // ---- decode ----
    const tok = this.runner.tokenizer;
    const detok = new Detokenizer(tok, ids);
    const stops = new StopFilter(req.stop ?? []);
    const rand = seededRandom(req.seed ?? 0);
    const sampling = { temperature: req.temperature ?? 0, topP: req.topP ?? 1 };
    // Drafts are only exact for greedy decoding (sampling would need rejection sampling to keep its distribution).
    const draftMax = sampling.temperature > 0 ? 0 : Math.max(0, Math.floor(req.draftTokens ?? 0));
    const tokens: TokenTrace[] = [];
    const budget = maxTokens + (healer ? healer.plan.tokens : 0);  // re-generating the backed-up tokens is free
    let finish: FinishReason = 'length';
    let decodeMs = 0, drafted = 0, accepted = 0;
    // Logits rows not yet sampled from, oldest first, with the router row of the position that produced each and the
    // step time charged to it (a step that yields several tokens charges its first). `draft` holds the drafted tokens
    // fed after the last sampled one: row i is valid only while the tokens sampled so far matched draft[0..i-1].
    const vocab = m.dims.vocab;
    let rows = [{ logits: (last as StepResult).logits.subarray((last as StepResult).logits.length - vocab),
      producer: this.seqProbs[this.seqProbs.length - 1], ms: prefillMs }];
    let draft: number[] = [];
    const history = draftMax > 0 ? [...ids] : [];  // what the drafter searches: the prompt and every sampled token
    for (;;) {
      const row = rows.shift()!;
      const next = sample(healer ? healer.mask(row.logits) : row.logits, sampling, rand);
      healer?.accept(next);
      const isEos = next === m.special_tokens.eos_id;
      const decoded = isEos ? '' : detok.push(next);
      const piece = healer ? healer.strip(decoded) : decoded;  // the healed text is the user's, not the completion's
      const trace: TokenTrace = { ...routing(next, piece, row.producer, threshold), ms: row.ms };
      tokens.push(trace);
      if (draftMax > 0) history.push(next);
      const shown = stops.push(piece);
      if (isEos) finish = 'eos';
      else if (stops.stopped) finish = 'stop';
      hooks.onToken?.(trace, shown);
      if (finish !== 'length' || tokens.length >= budget) break;
      if (draft.length > 0 && draft[0] === next) { draft.shift(); accepted++; continue; } // its row is next in `rows`
      if (draft.length > 0) this.truncateTo(this.seq.length - draft.length); // the guess went wrong here: drop the rest
      // Let other messages reach the engine process between steps; honour a cancel before spending another step.
      await yieldToEventLoop();
      if (hooks.isCancelled?.()) { finish = 'cancelled'; break; }
      const room = Math.min(draftMax, budget - tokens.length - 1);  // each drafted row can yield one more token
      draft = room > 0 ? this.drafter(history, room).slice(0, room) : [];
      drafted += draft.length;
      const fed = [next, ...draft];
      const step = await this.feed(fed, threshold, fed.length);
      decodeMs += step.ms;
      const base = this.seqProbs.length - fed.length;
      rows = fed.map((_, i) => ({ logits: step.logits.subarray(i * vocab, (i + 1) * vocab), producer: this.seqProbs[base + i],
        ms: i === 0 ? step.ms : 0 }));
    }
    // The cache keeps the prompt and every generated token but the last (as without drafts): no unverified rows.
    this.truncateTo(Math.min(this.seq.length, ids.length + tokens.length - 1));
    const decodeTokens = tokens.length - 1;
    if (finish !== 'stop') {
      // Text held back (an unfinished character, a possible stop start) belongs to the completion after all;
      // streaming consumers get it with the result (`text` is the authority).
      const tail = healer ? healer.strip(detok.flush()) : detok.flush();
      tokens[tokens.length - 1].text += tail;
      stops.push(tail);
      stops.flush();
    }
    // Prompt traces only when asked: building and sending one per prompt token is most of a short request's cost.
    const prompt = req.tracePrompt ? this.promptTraces(ids, threshold) : undefined;
    return {
      text: stops.emitted, tokens, prompt, window, finishReason: finish, threshold,
      timings: {
        reusedTokens: common, prefillTokens: ids.length - common, prefillMs, decodeTokens, decodeMs,
        decodeTokPerS: decodeTokens > 0 ? (decodeTokens * 1000) / decodeMs : NaN, totalMs: performance.now() - started,
        draftedTokens: drafted, acceptedTokens: accepted,
      },
    };
  }

  /** Result of a request cancelled during a long prefill (the chunks done so far stay cached for reuse). */
  private cancelledEarly(threshold: number, reused: number, started: number): CompleteResult {
    const ms = performance.now() - started;
    return { text: '', tokens: [], finishReason: 'cancelled', threshold, timings: {
      reusedTokens: reused, prefillTokens: this.seq.length - reused, prefillMs: ms, decodeTokens: 0, decodeMs: 0,
      decodeTokPerS: NaN, totalMs: ms, draftedTokens: 0, acceptedTokens: 0 } };
  }

  /** Run `chunk` after the cached sequence and remember its ids and router probs rows. */
  private async feed(chunk: number[], threshold: number, numLogits = 1): Promise<StepResult> {
    const r = await this.runner.step(chunk, threshold, numLogits);
    const row = this.runner.layers * 2;
    for (let i = 0; i < chunk.length; i++) {
      this.seq.push(chunk[i]);
      this.seqProbs.push(r.routerProbs.slice(i * row, (i + 1) * row));
    }
    return r;
  }

  private truncateTo(n: number): void {
    this.runner.cache.truncate(n);
    this.seq.length = n;
    this.seqProbs.length = n;
    this.seqTraces.length = Math.min(n, this.seqTraces.length);
  }

  private promptTraces(ids: number[], threshold: number): RoutingTrace[] {
    const tok = this.runner.tokenizer;
    return ids.map((id, i) => (this.seqTraces[i] ??= routing(id, tok.decode([id]), this.seqProbs[i], threshold)));
  }
}

function fimIds(fim: Record<string, number>): { prefix: number; suffix: number; middle: number } | undefined {
  const find = (part: string) => Object.entries(fim).find(([k]) => k.includes(part))?.[1];
  const prefix = find('prefix'), suffix = find('suffix'), middle = find('middle');
  return prefix !== undefined && suffix !== undefined && middle !== undefined ? { prefix, suffix, middle } : undefined;
}
