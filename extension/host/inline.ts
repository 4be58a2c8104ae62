// The InlineCompletionItemProvider: turns the editor state into a plain EditorRequest for the pipeline, links VS
// Code's cancellation token to an AbortSignal that reaches the engine, and drops results for a document that changed
// meanwhile. Registered only for the languages in skipgpt.languages while skipgpt.inlineCompletions.enabled is on.
// Where the pipeline shows text early (a block's first line, a line cut by its time cap), it asks VS Code again once
// the longer suggestion is ready (the document and cursor unchanged), which then gets it from the cache. It notes when
// the text last changed, so the debounce counts from the keystroke (VS Code itself waits ~50 ms before asking).
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

export class SkipgptInlineProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  /** Until when the next request skips the debounce (set by the manual trigger command). */
  private manualUntil = 0;
  /** Until when an explicit trigger is our own refresh (showLonger), not the user asking for a whole suggestion. */
  private refreshUntil = 0;
  private lastEdit?: { doc: string; at: number };
  private readonly sub: vscode.Disposable;

  constructor(private readonly pipeline: CompletionPipeline, private readonly host: EngineHost, private readonly observer?: TestObserver) {
    this.sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length) this.lastEdit = { doc: e.document.uri.toString(), at: Date.now() };
    });
  }

  dispose(): void { this.sub.dispose(); }

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
    const refresh = Date.now() < this.refreshUntil;
    this.refreshUntil = 0;
    const manual = (ctx.triggerKind === vscode.InlineCompletionTriggerKind.Invoke && !refresh) || Date.now() < this.manualUntil;
    const req = editorRequest(doc, pos, manual);
    if (this.lastEdit?.doc === req.doc) req.typedAt = this.lastEdit.at;
    try {
      const out = await this.pipeline.provide(req, ac.signal);
      // Never show a suggestion computed for an older state of the document.
      const shown = !!out.text && !token.isCancellationRequested && doc.version === version;
      this.observer?.inline.push({ version, reason: out.reason ?? (shown ? undefined : 'stale'), shown, outcome: out });
      if (shown && out.refined) void out.refined.then((longer) => this.showLonger(longer, doc, version, pos));
      return shown ? [new vscode.InlineCompletionItem(out.text!, new vscode.Range(pos, pos))] : undefined;
    } finally {
      sub.dispose();
    }
  }

  /** Asks VS Code for the suggestion again when the pipeline has a longer one and nothing moved meanwhile. */
  private async showLonger(longer: boolean, doc: vscode.TextDocument, version: number, pos: vscode.Position): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!longer || editor?.document !== doc || doc.version !== version || !editor.selection.isEmpty || !editor.selection.active.isEqual(pos)) return;
    this.refreshUntil = Date.now() + 1000;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  }
}
