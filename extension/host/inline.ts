// The InlineCompletionItemProvider: turns the editor state into a plain EditorRequest for the pipeline, links VS
// Code's cancellation token to an AbortSignal that reaches the engine, and drops results for a document that changed
// meanwhile. Registered only for the languages in skipgpt.languages while skipgpt.inlineCompletions.enabled is on.
import * as vscode from 'vscode';
import type { CompletionPipeline, EditorRequest, PipelineOutcome } from '../completion/pipeline';
import type { EngineHost } from './engineHost';

/** Characters of context sent per side; the prompt builder trims further to the token budget. */
const MAX_PREFIX_CHARS = 24000;
const MAX_SUFFIX_CHARS = 2000;

/** The pipeline's view of a document at a cursor position. */
export function editorRequest(doc: vscode.TextDocument, pos: vscode.Position, manual = false): EditorRequest {
  const offset = doc.offsetAt(pos);
  const text = doc.getText();
  return {
    doc: doc.uri.toString(), prefix: text.slice(Math.max(0, offset - MAX_PREFIX_CHARS), offset),
    suffix: text.slice(offset, offset + MAX_SUFFIX_CHARS), languageId: doc.languageId,
    filename: vscode.workspace.asRelativePath(doc.uri, false), manual,
  };
}

export class SkipgptInlineProvider implements vscode.InlineCompletionItemProvider {
  calls = 0;
  lastOutcome?: PipelineOutcome;
  /** The latest requests: document version, what the pipeline said, whether an item was returned (for the suite). */
  readonly history: { version: number; reason?: string; shown: boolean }[] = [];
  /** Set by the manual trigger command so that the next request skips the debounce. */
  manualUntil = 0;

  constructor(private readonly pipeline: CompletionPipeline, private readonly host: EngineHost) {}

  async provideInlineCompletionItems(doc: vscode.TextDocument, pos: vscode.Position, ctx: vscode.InlineCompletionContext,
    token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    this.calls += 1;
    if (!(await this.host.ensureLoaded())) return undefined;
    if (token.isCancellationRequested) return undefined;
    const version = doc.version;
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    const manual = ctx.triggerKind === vscode.InlineCompletionTriggerKind.Invoke || Date.now() < this.manualUntil;
    try {
      const out = await this.pipeline.provide(editorRequest(doc, pos, manual), ac.signal);
      this.lastOutcome = out;
      // Never show a suggestion computed for an older state of the document.
      const shown = !!out.text && !token.isCancellationRequested && doc.version === version;
      this.history.push({ version, reason: out.reason ?? (shown ? undefined : 'stale'), shown });
      if (this.history.length > 100) this.history.shift();
      return shown ? [new vscode.InlineCompletionItem(out.text!, new vscode.Range(pos, pos))] : undefined;
    } finally {
      sub.dispose();
    }
  }
}
