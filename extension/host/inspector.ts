// The routing inspector (a WebviewView in SkipGPT's activity-bar container): shows the latest completion's trace as a
// token × layer heatmap with the session's per-layer skip rates, re-runs the last request at the target skip rate
// (calibrated models) or threshold of its slider (tracing its prompt too), and exports the trace as JSON or CSV.
import * as vscode from 'vscode';
import { writeFile } from 'node:fs/promises';
import type { CompletionEngine } from '../completion/engineApi';
import type { SkipgptSettings } from '../completion/settings';
import { expectedAt } from '../completion/sparsityDial';
import { traceToCsv, traceToJson, type TraceRecord } from '../routing/export';
import { summarize } from '../routing/stats';
import { parseWebviewMessage, tokenView, type HostToWebview } from '../webviews/protocol';
import type { EngineHost } from './engineHost';
import type { Notifier } from './notifier';
import { initMessage, summaryView } from './panel';
import type { TraceRecorder } from './traceRecorder';
import { webviewHtml, webviewOptions } from './webviewHtml';

export class RoutingInspector implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'skipgpt.inspector';
  private view?: vscode.WebviewView;
  private ready = false;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly host: EngineHost, private readonly engine: CompletionEngine,
    private readonly traces: TraceRecorder, private readonly settings: () => SkipgptSettings) {
    this.subs.push(traces.onDidTrace((t) => this.sendTrace(t)), host.onDidChange(() => this.refresh()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'inspector', 'SkipGPT: Routing Inspector');
    this.subs.push(view.webview.onDidReceiveMessage((m) => this.onMessage(m)));
    view.onDidDispose(() => { this.view = undefined; this.ready = false; }, null, this.subs);
  }

  /** The model or the sparsity settings changed: the slider shows the target rate / threshold now in effect. */
  refresh(): void { this.post(initMessage(this.host, this.settings())); }

  private post(m: HostToWebview): void { if (this.view && this.ready) void this.view.webview.postMessage(m); }

  private onMessage(raw: unknown): void {
    const m = parseWebviewMessage(raw);
    if (!m) return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.refresh();
        if (this.traces.last) this.sendTrace(this.traces.last);
        return;
      case 'rerun': void ('skipRate' in m ? this.rerunAt({ skipRate: m.skipRate }) : this.rerun(m.threshold)); return;
      case 'export': void vscode.commands.executeCommand('skipgpt.exportTrace', m.format); return;
    }
  }

  private sendTrace(t: TraceRecord): void {
    const p = t.promptTokens && t.promptTokens.length > 0 ? summarize(t.promptTokens) : undefined;
    this.post({ type: 'trace', prompt: t.prompt, threshold: t.threshold, target: t.request.skipRate ?? null,
      expected: expectedAt(this.host.info?.calibration, t.threshold) ?? null, tokens: t.tokens.map(tokenView),
      summary: summaryView(t.tokens, this.host), session: this.traces.session.rates(),
      promptSummary: p && { tokens: p.tokens, attnSkip: p.attnSkip, mlpSkip: p.mlpSkip } });
  }

  /** Re-runs the latest request at `threshold`, with its prompt's routing; the new trace arrives through onDidTrace. */
  rerun(threshold: number): Promise<void> { return this.rerunAt({ threshold }); }

  /** Re-runs the latest request at a threshold or a target skip rate (the engine maps it through the calibration). */
  async rerunAt(sparsity: { threshold: number } | { skipRate: number }): Promise<void> {
    const last = this.traces.last;
    if (!last) { this.post({ type: 'error', message: 'No completion yet: trigger one in an editor first.' }); return; }
    try {
      // The last request's own sparsity goes: a request carries a threshold or a skip rate, never both.
      const { threshold: _t, skipRate: _r, ...request } = last.request;
      await this.engine.complete({ ...request, ...sparsity, maxTokens: this.settings().maxTokens, temperature: 0,
        stop: undefined, tracePrompt: true });
    } catch (e) {
      this.post({ type: 'error', message: `Re-run failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  dispose(): void { while (this.subs.length) this.subs.pop()?.dispose(); }
}

/** Writes the latest trace; asks where unless `target` is given (tests and scripts pass one). */
export async function exportTrace(traces: TraceRecorder, notifier: Notifier, format: 'json' | 'csv', target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const t = traces.last;
  if (!t) { void notifier.notify('info', 'SkipGPT: no completion trace to export yet.'); return undefined; }
  const uri = target ?? await vscode.window.showSaveDialog({
    filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] }, saveLabel: `Export trace as ${format.toUpperCase()}`,
    defaultUri: vscode.workspace.workspaceFolders?.[0] ? vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, `skipgpt-trace.${format}`) : undefined,
  });
  if (!uri) return undefined;
  await writeFile(uri.fsPath, format === 'json' ? traceToJson(t) : traceToCsv(t), 'utf8');
  return uri;
}
