// The slice of the engine (extension/engine EngineClient) that the host-side code relies on. Written against the
// engine contract in docs/ARCHITECTURE.md §3 so unit tests can pass a fake and the real EngineClient satisfies it.
// vscode-free.

/** One generated token with its routing decisions: attn[l] / mlp[l] = 1 when that sublayer executed. */
export interface TokenTrace {
  id: number;
  text: string;
  attn: ArrayLike<number>;
  mlp: ArrayLike<number>;
  pAttn: ArrayLike<number>;
  pMlp: ArrayLike<number>;
  ms: number;
}

export interface CompleteRequest {
  prompt?: string;
  prefix?: string;
  suffix?: string;
  maxTokens: number;
  threshold: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** Reuse the engine's cached KV of a shared token prefix (engine default: true). */
  reusePrefix?: boolean;
  /** Prompt-lookup speculative decoding: tokens drafted from the context and verified per step (0 = off). */
  draftTokens?: number;
  /** Token healing: the engine backs the prompt up over the token the cursor splits (`retu`, trailing indentation)
   * and returns only the text after the prompt (engine default: true for `prefix`, false for `prompt`). */
  heal?: boolean;
}

export interface CompleteOptions {
  signal?: AbortSignal;
  /** `safeText`: completion text that became safe to show with this token (stop sequences held back). */
  onToken?: (t: TokenTrace, safeText?: string) => void;
  /** Whether this run becomes the trace the webviews show (default true); a function is asked when the run ends,
   * so a request the user cancelled is not shown while one stopped early by the multi-line policy is. */
  record?: boolean | (() => boolean);
  /** A background prefill (cache priming): the host does not report it as generating and never records it. */
  background?: boolean;
}

export interface CompleteResult {
  text: string;
  tokens: TokenTrace[];
  /** Prompt tokens processed (after prefix reuse), when the engine reports it. */
  timings?: { reusedTokens: number; prefillTokens: number; prefillMs: number; decodeTokens: number; decodeMs: number; totalMs: number };
  totalMs?: number;
  finishReason?: string;
}

/** Model dimensions the UI needs to express "fraction of weights read" (from the engine's manifest). */
export interface ModelShape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  tiedEmbeddings?: boolean;
  specialTokens?: string[];
  name?: string;
}

export interface CompletionEngine {
  complete(req: CompleteRequest, opts?: CompleteOptions): Promise<CompleteResult>;
}
