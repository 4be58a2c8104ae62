// The one typed message map between EngineClient (extension host) and process.ts (the engine's child process), plus
// the plain-data types both sides share. Everything here crosses the IPC channel with `serialization: 'advanced'`
// (V8 structured clone: typed arrays stay typed arrays): no classes, no functions.

/** Execution provider settings (the order the `skipgpt.executionProvider` setting lists them). */
export const EP_SETTINGS = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
/** Execution provider setting: `auto` tries what the platform has, then falls back to CPU. */
export type EpSetting = typeof EP_SETTINGS[number];

export interface LoadOptions {
  executionProvider?: EpSetting;
  /** intraOpNumThreads for onnxruntime; 0 or undefined = onnxruntime's default. */
  threads?: number;
  /** Tokens per prefill chunk for long prompts (default DEFAULT_PREFILL_CHUNK = 64). */
  prefillChunk?: number;
  /** `auto`: folder where probe results are cached per model and machine (the extension's storage); none = no cache. */
  probeCacheDir?: string;
  /** `auto`: time budget of one GPU candidate's probe in ms (default 60 s). */
  probeBudgetMs?: number;
}

/** One provider `auto` considered: usable or not, its measured decode step, and why. */
export interface ProbeReport { ep: string; ok: boolean; stepMs?: number; reason: string }

/** A provider passed over while loading, and why (its error, or "not available on <platform>"). */
export interface EpSkip { ep: string; reason: string }

/** Skip rate vs threshold measured on held-out code (manifest router.calibration, optional; sparsity.ts reads it;
 * docs/MANIFEST.md). Part of LoadInfo, so a UI can speak in target skip rates. */
export interface Calibration {
  source: string; tokens: number;
  points: { threshold: number; skip: number; attn_skip: number; mlp_skip: number }[];
}

/** The model's sizes, as the host needs them (weights-read model, heatmap rows). From the manifest's dims. */
export interface ModelDims {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  maxPositions: number;
}

/** What the host knows about the loaded model: all of it comes from the engine (the host never opens a model file). */
export interface LoadInfo {
  modelDir: string;
  name: string;
  layers: number;
  vocabSize: number;
  dims: ModelDims;
  /** Names of the special and code tokens the vocabulary has (`<filename>`, `<|endoftext|>`, …): stop strings. */
  specialTokens: string[];
  /** The manifest's router.threshold_default: the threshold a request without one runs at ("as trained"). */
  thresholdDefault: number;
  /** The longest text one token stands for (tokenizer.maxTokenChars): `budget` tokens never cover more than
   * budget × this many characters, so the client cuts a prefix to that before sending it. */
  maxTokenChars: number;
  /** max_positions × maxTokenChars: no more of a text can reach the model (the client cuts before sending). */
  maxPromptChars: number;
  /** The manifest's skip-rate calibration (threshold ↔ measured skip rate; sparsity.ts), null when the folder has none:
   * what a UI needs to speak in target skip rates (request.skipRate). */
  calibration: Calibration | null;
  executionProvider: string;
  /** Why this provider: the setting, or `auto`'s verdict with figures. */
  providerReason: string;
  /** `auto` only: every candidate probed (CPU first), with its figures or the reason it was passed over. */
  probes: ProbeReport[];
  passedOver: EpSkip[];
  threads: number;
  loadMs: number;
}

export interface CompleteRequest {
  /** Plain prompt; or `prefix` (+ optional `suffix`) for an editor completion. */
  prompt?: string;
  prefix?: string;
  /** With `prefix`: the file's path, put before the prefix as `<filename>path\n` when the vocabulary has that token. */
  filename?: string;
  /**
   * With `prefix`: prompt budget in tokens (header included), counted with the model's tokenizer. The prompt keeps
   * the end of the prefix from a line start that stays put while it fits (promptWindow.ts), so consecutive requests
   * reuse the cached prefix. Default: the whole prefix.
   */
  budget?: number;
  /** Pre-tokenized prompt (tools, tests); instead of prompt/prefix. */
  ids?: number[];
  suffix?: string;
  /** Generated tokens at most (default 32). */
  maxTokens?: number;
  /** Router threshold: a sublayer runs iff p_execute >= threshold. 0 = dense. Default: the manifest's. */
  threshold?: number;
  /**
   * Target fraction of sublayers skipped (0..1), instead of `threshold`: mapped to a threshold through the model
   * folder's calibration (sparsity.ts; clamped to the calibrated range). Giving both is an error.
   */
  skipRate?: number;
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
  /** Return `prompt` (the routing of every prompt token) with the result: the inspector and the CLI's `trace` ask;
   * editor completions do not pay for building and sending it. Default false. */
  tracePrompt?: boolean;
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
  /** Only with request.tracePrompt: routing of every prompt token (also the reused ones, remembered from when they
   * were computed). */
  prompt?: RoutingTrace[];
  /** Prefix requests with a budget or filename: the prompt's text is `header + prefix.slice(start)` (before healing). */
  window?: { header: string; start: number };
  finishReason: FinishReason;
  threshold: number;
  timings: Timings;
}

/**
 * A result as it crosses the channel: the tokens were streamed (`token`), so they are not sent again; the client
 * puts them back. `tail`: text the engine added to the last token's after streaming it (characters held back until
 * the end); `tokenCount` lets the client check it has every token.
 */
export type DoneResult = Omit<CompleteResult, 'tokens'> & { tail: string; tokenCount: number };

// ---- client → engine process ----
export type ToEngine =
  /** Load a model folder; answered by `loaded` or `error`. The new model replaces the loaded one only once it has
   * loaded: on failure the old one keeps serving. */
  | { type: 'load'; id: number; modelDir: string; options: LoadOptions }
  /** Generate a completion; streamed as `token` events, answered by `done` or `error`. Requests run one at a time. */
  | { type: 'complete'; id: number; request: CompleteRequest }
  /**
   * Cancel request `id` (handled as soon as it arrives, not queued): a running completion stops before its next
   * forward step (decode token or prefill chunk) and ends with `done`, reason 'cancelled'; a queued one never runs.
   * Unknown or finished ids are ignored.
   */
  | { type: 'cancel'; id: number }
  /** Cancel everything, free the session and cache, and exit with code 0 (the client SIGKILLs it after a deadline). */
  | { type: 'dispose'; id: number };

// ---- engine process → client ----
export type FromEngine =
  /** The model of request `id` is loaded and ready. */
  | { type: 'loaded'; id: number; info: LoadInfo }
  /** One generated token of request `id`, with the text now safe to show (may be ''). */
  | { type: 'token'; id: number; token: TokenTrace; text: string }
  /** Request `id` finished: its result without the tokens, which crossed once already as `token` messages. */
  | { type: 'done'; id: number; result: DoneResult }
  /** Request `id` failed; id -1 = an error outside any request. */
  | { type: 'error'; id: number; message: string; stack?: string }
  /** Diagnostics (provider choice, fallbacks) for the host's output channel. */
  | { type: 'log'; level: 'info' | 'warn'; message: string };
