// The InlineCompletionItemProvider: turns the editor state into a plain EditorRequest for the pipeline, links VS
// Code's cancellation token to an AbortSignal that reaches the engine, and drops results for a document that changed
// meanwhile. Registered only for the languages in skipgpt.languages while skipgpt.inlineCompletions.enabled is on.
import * as vscode from 'vscode';
import type { CompletionPipeline, EditorRequest } from '../completion/pipeline';
import type { EngineHost } from './engineHost';
import type { TestObserver } from './testObserver';

/** Characters after the cursor given to the multi-line policy (it looks at the next few lines only). */
const SUFFIX_CHARS = 2000;

/**
 * The pipeline's view of a document at a cursor position. The prefix is the whole text before the cursor: the
 * engine client cuts it to what the prompt budget can use before it crosses to the engine (LoadInfo.maxTokenChars).
 */
export function editorRequest(doc: vscode.TextDocument, pos: vscode.Position, manual = false): EditorRequest {
  const offset = doc.offsetAt(pos);
  const text = doc.getText();
  return {
    doc: doc.uri.toString(), prefix: text.slice(0, offset), suffix: text.slice(offset, offset + SUFFIX_CHARS),
    languageId: doc.languageId, filename: vscode.workspace.asRelativePath(doc.uri, false), manual,
  };
}

export class SkipgptInlineProvider implements vscode.InlineCompletionItemProvider {
  /** Until when the next request skips the debounce (set by the manual trigger command). */
  private manualUntil = 0;

  constructor(private readonly pipeline: CompletionPipeline, private readonly host: EngineHost, private readonly observer?: TestObserver) {}

  /** The next request (within 2 s) is a manual one: no debounce. */
  triggeredManually(): void { this.manualUntil = Date.now() + 2000; }

  async provideInlineCompletionItems(doc: vscode.TextDocument, pos: vscode.Position, ctx: vscode.InlineCompletionContext,
    token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (this.observer) this.observer.inlineCalls += 1;
    if (!(await this.host.ensureLoaded())) return undefined;
    if (token.isCancellationRequested) return undefined;
    const version = doc.version;
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    const manual = ctx.triggerKind === vscode.InlineCompletionTriggerKind.Invoke || Date.now() < this.manualUntil;
    try {
      const out = await this.pipeline.provide(editorRequest(doc, pos, manual), ac.signal);
      // Never show a suggestion computed for an older state of the document.
      const shown = !!out.text && !token.isCancellationRequested && doc.version === version;
      this.observer?.inline.push({ version, reason: out.reason ?? (shown ? undefined : 'stale'), shown, outcome: out });
      return shown ? [new vscode.InlineCompletionItem(out.text!, new vscode.Range(pos, pos))] : undefined;
    } finally {
      sub.dispose();
    }
  }
}
