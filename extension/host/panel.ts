// The skip-rate panel (a WebviewPanel): runs a completion from the selection or the cursor's prefix and streams it
// token by token with its routing, then optionally the same prompt dense (threshold 0) beside it, marking where the
// routed output diverges. Messages are validated (webviews/protocol.ts); nothing is sent before the ready handshake.
import * as vscode from 'vscode';
import { buildPrompt } from '../completion/prompt';
import { effectiveThreshold, type SkipgptSettings } from '../completion/settings';
import { firstDivergence, summarize } from '../routing/stats';
import { parseWebviewMessage, tokenView, type HostToWebview, type RunKind, type SummaryView, type WebviewToHost } from '../webviews/protocol';
import type { TokenTrace } from '../completion/engineApi';
import type { EngineHost } from './engineHost';
import { webviewHtml, webviewOptions } from './webviewHtml';

export type Rendered = Extract<WebviewToHost, { type: 'rendered' }>;

export function summaryView(tokens: readonly TokenTrace[], host: EngineHost, wallMs?: number): SummaryView {
  const s = summarize(tokens, host.shape, wallMs);
  return { tokens: s.tokens, tokensPerSec: s.tokensPerSec, attnSkip: s.attnSkip, mlpSkip: s.mlpSkip, weightsReadFraction: s.weightsReadFraction ?? null };
}

/** The prompt a panel run uses: the selection if there is one, else the text before the cursor (within the budget). */
export function promptFromEditor(editor: vscode.TextEditor | undefined, host: EngineHost, s: SkipgptSettings): string | undefined {
  if (!editor) return undefined;
  const doc = editor.document;
  if (!editor.selection.isEmpty) return doc.getText(editor.selection);
  const prefix = doc.getText(new vscode.Range(new vscode.Position(0, 0), editor.selection.active));
  return buildPrompt({ prefix, suffix: '', languageId: doc.languageId, filename: vscode.workspace.asRelativePath(doc.uri, false) },
    { budgetTokens: s.promptTokens, specialTokens: host.specialTokens }).prompt;
}

export class SkipRatePanel implements vscode.Disposable {
  static readonly viewType = 'skipgpt.panel';
  private static current: SkipRatePanel | undefined;
  readonly panel: vscode.WebviewPanel;
  ready = false;
  lastRendered?: Rendered;
  runs = 0;
  /** Tokens of the latest routed and dense runs. */
  lastCounts: [number, number] = [0, 0];
  private runId = 0;
  private pendingRun?: boolean;
  private readonly subs: vscode.Disposable[] = [];

  /** Opens (or reveals) the panel; `run` starts a completion as soon as the webview is ready. */
  static show(extensionUri: vscode.Uri, host: EngineHost, settings: () => SkipgptSettings, editor: () => vscode.TextEditor | undefined,
    run?: { withDense: boolean }): SkipRatePanel {
    const p = SkipRatePanel.current ?? new SkipRatePanel(extensionUri, host, settings, editor);
    p.panel.reveal(vscode.ViewColumn.Beside, true);
    if (run) { if (p.ready) void p.run(run.withDense); else p.pendingRun = run.withDense; }
    return p;
  }

  static get instance(): SkipRatePanel | undefined { return SkipRatePanel.current; }

  private constructor(extensionUri: vscode.Uri, private readonly host: EngineHost, private readonly settings: () => SkipgptSettings,
    private readonly editor: () => vscode.TextEditor | undefined) {
    this.panel = vscode.window.createWebviewPanel(SkipRatePanel.viewType, 'SkipGPT: Skip Rates',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { ...webviewOptions(extensionUri), retainContextWhenHidden: true });
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'skipgpt.svg');
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, 'panel', 'SkipGPT: Skip Rates');
    this.subs.push(this.panel.webview.onDidReceiveMessage((m) => this.onMessage(m)));
    this.panel.onDidDispose(() => this.dispose(), null, this.subs);
    SkipRatePanel.current = this;
  }

  private post(m: HostToWebview): void { void this.panel.webview.postMessage(m); }

  private onMessage(raw: unknown): void {
    const m = parseWebviewMessage(raw);
    if (!m) return;                                   // not one of ours: ignore
    if (m.type === 'ready') {
      this.ready = true;
      const s = this.settings();
      this.post({ type: 'init', layers: this.host.shape?.layers ?? 0, threshold: effectiveThreshold(s), model: this.host.modelName ?? '' });
      if (this.pendingRun !== undefined) { const d = this.pendingRun; this.pendingRun = undefined; void this.run(d); }
    } else if (m.type === 'run') void this.run(m.withDense);
    else if (m.type === 'rendered') this.lastRendered = m;
  }

  /** Routed run (streamed), then a dense run of the same prompt when asked. */
  async run(withDense: boolean): Promise<void> {
    const s = this.settings();
    if (!(await this.host.ensureLoaded(true))) { this.post({ type: 'error', message: this.host.error ?? 'No model loaded.' }); return; }
    const prompt = promptFromEditor(this.editor(), this.host, s);
    if (!prompt) { this.post({ type: 'error', message: 'Open a file and place the cursor (or select text) to complete from.' }); return; }
    this.post({ type: 'init', layers: this.host.shape?.layers ?? 0, threshold: effectiveThreshold(s), model: this.host.modelName ?? '' });
    try {
      const routed = await this.stream(prompt, 'routed', effectiveThreshold(s), s.maxTokens);
      const dense = withDense ? await this.stream(prompt, 'dense', 0, s.maxTokens, routed) : [];
      this.lastCounts = [routed.length, dense.length];
      this.runs += 1;
    } catch (e) {
      this.post({ type: 'error', message: `Completion failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  private async stream(prompt: string, kind: RunKind, threshold: number, maxTokens: number, routed?: TokenTrace[]): Promise<TokenTrace[]> {
    const runId = ++this.runId;
    this.post({ type: 'runStart', runId, kind, prompt, threshold });
    let i = 0;
    const t0 = Date.now();
    const r = await this.host.complete({ prompt, maxTokens, threshold, temperature: 0 }, {
      record: kind === 'routed',
      onToken: (t) => this.post({ type: 'token', runId, kind, token: tokenView(t, i++) }),
    });
    const divergence = routed ? firstDivergence(routed, r.tokens) : undefined;
    this.post({ type: 'runEnd', runId, kind, summary: summaryView(r.tokens, this.host, Date.now() - t0), divergence });
    return r.tokens;
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (SkipRatePanel.current === this) SkipRatePanel.current = undefined;
    this.panel.dispose();
    while (this.subs.length) this.subs.pop()?.dispose();
  }
}
