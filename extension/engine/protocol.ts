// The one typed message map between EngineClient (main thread) and worker.ts (worker thread), plus the plain-data
// types both sides share. Everything here crosses postMessage (structured clone): no classes, no functions.

/** Execution provider setting: `auto` tries what the platform has, then falls back to CPU. */
export type EpSetting = 'auto' | 'cpu' | 'webgpu' | 'dml' | 'coreml' | 'cuda';

export interface LoadOptions {
  executionProvider?: EpSetting;
  /** intraOpNumThreads for onnxruntime; 0 or undefined = onnxruntime's default. */
  threads?: number;
  /** Tokens per prefill chunk for long prompts (default DEFAULT_PREFILL_CHUNK = 64). */
  prefillChunk?: number;
}

/** A provider passed over while loading, and why (its error, or "not available on <platform>"). */
export interface EpSkip { ep: string; reason: string }

export interface LoadInfo {
  modelDir: string;
  name: string;
  layers: number;
  vocabSize: number;
  executionProvider: string;
  passedOver: EpSkip[];
  threads: number;
  loadMs: number;
}

export interface CompleteRequest {
  /** Plain prompt; or `prefix` (+ optional `suffix`) for an editor completion. */
  prompt?: string;
  prefix?: string;
  /** Pre-tokenized prompt (tools, tests); instead of prompt/prefix. */
  ids?: number[];
  suffix?: string;
  /** Generated tokens at most (default 32). */
  maxTokens?: number;
  /** Router threshold: a sublayer runs iff p_execute >= threshold. 0 = dense. Default: the manifest's. */
  threshold?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Nucleus sampling mass (default 1). */
  topP?: number;
  /** RNG seed for sampling (default 0): the same seed gives the same tokens. */
  seed?: number;
  /** Generation stops before any of these strings; the stop text is never emitted. */
  stop?: string[];
  /** Reuse the cached KV of a shared token prefix (default true). */
  reusePrefix?: boolean;
  /**
   * Speculative decoding from prompt lookup (greedy only): after each token, up to this many tokens that followed an
   * earlier occurrence of the last few tokens are verified in the same forward step. The tokens are plain greedy
   * decoding's up to float rounding (a step of several rows can round differently, docs/ENGINE.md). 0 (default) = off.
   */
  draftTokens?: number;
  /**
   * Token healing (engine/healing.ts): back the prompt up over the token(s) the cursor splits (a partial word, trailing
   * indentation, a bare newline) and make the completion re-produce that text first; `text` holds only what follows
   * the prompt. Default: true for `prefix`, false for `prompt`; never for `ids`.
   */
  heal?: boolean;
}

/** Routing of one token: per layer, did attention / MLP run, and the router's p_execute. */
export interface RoutingTrace {
  id: number;
  text: string;
  attn: Uint8Array;
  mlp: Uint8Array;
  pAttn: Float32Array;
  pMlp: Float32Array;
}

/** A generated token: routing plus the wall time of the step that produced it (prefill for the first). */
export interface TokenTrace extends RoutingTrace { ms: number }

export interface Timings {
  /** Prompt tokens whose KV came from the cache of the previous request. */
  reusedTokens: number;
  prefillTokens: number;
  prefillMs: number;
  decodeTokens: number;
  decodeMs: number;
  /** decodeTokens / decodeMs, per second (NaN when nothing was decoded). */
  decodeTokPerS: number;
  totalMs: number;
  /** Tokens drafted by prompt lookup (request.draftTokens) and verified, and how many of them were right. */
  draftedTokens: number;
  acceptedTokens: number;
}

export type FinishReason = 'stop' | 'eos' | 'length' | 'cancelled';

export interface CompleteResult {
  /** The completion, stop sequence excluded. */
  text: string;
  /** Every generated token (including those that formed a stop sequence or an EOS). */
  tokens: TokenTrace[];
  /** Routing of every prompt token (also the reused ones, remembered from when they were computed). */
  prompt: RoutingTrace[];
  finishReason: FinishReason;
  threshold: number;
  timings: Timings;
}

// ---- main thread → worker ----
export type ToWorker =
  /** Client → worker: load a model folder (replaces any loaded model); answered by `loaded` or `error`. */
  | { type: 'load'; id: number; modelDir: string; options: LoadOptions }
  /**
   * Client → worker: generate a completion; streamed as `token` events, answered by `done` or `error`.
   * Cancel = the client stores 1 in `cancel[0]` (shared memory): the worker reads it before every forward step
   * without needing its event loop, so a cancelled request stops within one token (and ends with `done`,
   * reason 'cancelled'; a request cancelled while queued never runs).
   */
  | { type: 'complete'; id: number; request: CompleteRequest; cancel: Int32Array }
  /** Client → worker: free the session and cache, then answer `disposed`; the client terminates the thread. */
  | { type: 'dispose'; id: number };

// ---- worker → main thread ----
export type FromWorker =
  /** Worker → client: the model of request `id` is loaded and ready. */
  | { type: 'loaded'; id: number; info: LoadInfo }
  /** Worker → client: one generated token of request `id`, with the text now safe to show (may be ''). */
  | { type: 'token'; id: number; token: TokenTrace; text: string }
  /** Worker → client: request `id` finished (its result). */
  | { type: 'done'; id: number; result: CompleteResult }
  /** Worker → client: request `id` failed; id -1 = an error outside any request. */
  | { type: 'error'; id: number; message: string; stack?: string }
  /** Worker → client: diagnostics (provider choice, fallbacks) for the host's output channel. */
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  /** Worker → client: dispose of request `id` done; the thread can be terminated. */
  | { type: 'disposed'; id: number };
