// Public API of the engine for the extension host: EngineClient (the engine runs in a child process) and the
// plain-data types it exchanges (docs/ARCHITECTURE.md section 3). Nothing here imports onnxruntime or vscode.
export { EngineClient } from './client';
export type { CompleteHooks, EngineClientOptions } from './client';
export { clipForTokens } from './clip';
export { EP_SETTINGS } from './protocol';
export type {
  CompleteRequest, CompleteResult, EpSetting, EpSkip, FinishReason, LoadInfo, LoadOptions, ModelDims, ProbeReport,
  RoutingTrace, Timings, TokenTrace,
} from './protocol';
