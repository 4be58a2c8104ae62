// The InlineCompletionItemProvider: turns the editor state into a plain EditorRequest for the pipeline, links VS
// Code's cancellation token to an AbortSignal that reaches the engine, and drops results for a document that changed
// meanwhile. Registered only for the languages in skipgpt.languages while skipgpt.inlineCompletions.enabled is on.
// Where the pipeline shows a block's first line early, it asks VS Code again once the whole block is ready (the
// document and cursor unchanged), which then gets it from the cache.
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
      if (shown && out.refined) void out.refined.then((whole) => this.showWhole(whole, doc, version, pos));
      return shown ? [new vscode.InlineCompletionItem(out.text!, new vscode.Range(pos, pos))] : undefined;
    } finally {
      sub.dispose();
    }
  }

  private async showWhole(whole: boolean, doc: vscode.TextDocument, version: number, pos: vscode.Position): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!whole || editor?.document !== doc || doc.version !== version || !editor.selection.isEmpty || !editor.selection.active.isEqual(pos)) return;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  }
}
