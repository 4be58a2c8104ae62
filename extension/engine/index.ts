// Public API of the engine for the extension host: EngineClient (the engine runs in a child process) and the
// plain-data types it exchanges (docs/ARCHITECTURE.md section 3). Nothing here imports onnxruntime or vscode.
export { EngineClient } from './client';
export type { CompleteHooks, EngineClientOptions } from './client';
export type {
  CompleteRequest, CompleteResult, EpSetting, EpSkip, FinishReason, LoadInfo, LoadOptions, RoutingTrace, Timings,
  TokenTrace,
} from './protocol';
