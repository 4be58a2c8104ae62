// The one method of the engine that the host-side completion code calls, typed with the engine's own contract
// (extension/engine/protocol.ts), so unit tests can pass a fake and the host's EngineGate is the real one. vscode-free.
import type { CompleteRequest, CompleteResult, TokenTrace } from '../engine/protocol';

export interface CompleteOptions {
  signal?: AbortSignal;
  /** `safeText`: completion text that became safe to show with this token (stop sequences held back). */
  onToken?: (t: TokenTrace, safeText: string) => void;
  /** Whether this run becomes the trace the webviews show (default true); a function is asked when the run ends,
   * so a request the user cancelled is not shown while one stopped early by the multi-line policy is. */
  record?: boolean | (() => boolean);
  /** A background prefill (cache priming): the host does not report it as generating and never records it. */
  background?: boolean;
}

export interface CompletionEngine {
  complete(req: CompleteRequest, opts?: CompleteOptions): Promise<CompleteResult>;
}
