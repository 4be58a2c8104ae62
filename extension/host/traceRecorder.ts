// The routing the webviews and the status bar show: the latest recorded completion's trace (with the prompt text the
// model read and the request, for the inspector's re-run), the figures of that run, and per-layer skip counts over
// the session. vscode-free apart from the event it fires.
import * as vscode from 'vscode';
import type { CompleteRequest, CompleteResult, ModelDims } from '../engine/protocol';
import type { TraceRecord } from '../routing/export';
import { SessionStats, summarize } from '../routing/stats';
import type { LastRun } from '../status/text';

/** The prompt's text as the model read it: a plain prompt, or the window of a prefix the engine chose. */
export function promptText(req: CompleteRequest, r: CompleteResult): string {
  if (req.prefix === undefined) return req.prompt ?? '';
  return r.window ? r.window.header + req.prefix.slice(r.window.start) : req.prefix;
}

export class TraceRecorder implements vscode.Disposable {
  private latest?: TraceRecord;
  private lastRun?: LastRun;
  readonly session = new SessionStats();
  private readonly traced = new vscode.EventEmitter<TraceRecord>();
  /** A new trace was recorded (the inspector shows it; the status bar shows its figures). */
  readonly onDidTrace = this.traced.event;

  get last(): TraceRecord | undefined { return this.latest; }
  get lastFigures(): LastRun | undefined { return this.lastRun; }

  record(req: CompleteRequest, r: CompleteResult, wallMs: number, model: { name?: string; dims?: ModelDims }): void {
    const sum = summarize(r.tokens, model.dims);
    const t = r.timings;
    const decode = t.decodeMs > 0 ? (t.decodeTokens * 1000) / t.decodeMs : sum.tokensPerSec;
    this.lastRun = { latencyMs: wallMs, tokensPerSec: decode, skipRate: (sum.attnSkip + sum.mlpSkip) / 2, tokens: r.tokens.length };
    this.session.add(r.tokens);
    this.latest = { prompt: promptText(req, r), request: req, threshold: r.threshold, model: model.name, tokens: r.tokens,
      promptTokens: r.prompt };
    this.traced.fire(this.latest);
  }

  dispose(): void { this.traced.dispose(); }
}
