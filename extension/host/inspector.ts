// The routing inspector (a WebviewView in SkipGPT's activity-bar container): shows the latest completion's trace as a
// token × layer heatmap with the session's per-layer skip rates, re-runs the last prompt at a threshold from its
// slider, and exports the trace as JSON or CSV.
import * as vscode from 'vscode';
import { writeFile } from 'node:fs/promises';
import { traceToCsv, traceToJson, type TraceRecord } from '../routing/export';
import { parseWebviewMessage, tokenView, type HostToWebview } from '../webviews/protocol';
import type { EngineHost } from './engineHost';
import { summaryView, type Rendered } from './panel';
import { webviewHtml, webviewOptions } from './webviewHtml';
import type { SkipgptSettings } from '../completion/settings';
import { effectiveThreshold } from '../completion/settings';

export class RoutingInspector implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'skipgpt.inspector';
  view?: vscode.WebviewView;
  ready = false;
  lastRendered?: Rendered;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly host: EngineHost, private readonly settings: () => SkipgptSettings) {
    this.subs.push(host.onDidTrace((t) => this.sendTrace(t)));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'inspector', 'SkipGPT: Routing Inspector');
    this.subs.push(view.webview.onDidReceiveMessage((m) => this.onMessage(m)));
    view.onDidDispose(() => { this.view = undefined; this.ready = false; }, null, this.subs);
  }

  private post(m: HostToWebview): void { if (this.view && this.ready) void this.view.webview.postMessage(m); }

  private onMessage(raw: unknown): void {
    const m = parseWebviewMessage(raw);
    if (!m) return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.post({ type: 'init', layers: this.host.shape?.layers ?? 0, threshold: effectiveThreshold(this.settings()), model: this.host.modelName ?? '' });
        if (this.host.lastTrace) this.sendTrace(this.host.lastTrace);
        return;
      case 'rerun': void this.rerun(m.threshold); return;
      case 'export': void vscode.commands.executeCommand('skipgpt.exportTrace', m.format); return;
      case 'rendered': this.lastRendered = m; return;
    }
  }

  private sendTrace(t: TraceRecord): void {
    this.post({ type: 'trace', prompt: t.prompt, threshold: t.threshold, tokens: t.tokens.map(tokenView),
      summary: summaryView(t.tokens, this.host), session: this.host.session.rates() });
  }

  /** Re-runs the latest prompt at `threshold`; the new trace reaches the view through onDidTrace. */
  async rerun(threshold: number): Promise<void> {
    const last = this.host.lastTrace;
    if (!last) { this.post({ type: 'error', message: 'No completion yet: trigger one in an editor first.' }); return; }
    try {
      await this.host.complete({ prompt: last.prompt, threshold, maxTokens: this.settings().maxTokens, temperature: 0 });
    } catch (e) {
      this.post({ type: 'error', message: `Re-run failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  dispose(): void { while (this.subs.length) this.subs.pop()?.dispose(); }
}

/** Writes the latest trace; asks where unless `target` is given (tests and scripts pass one). */
export async function exportTrace(host: EngineHost, format: 'json' | 'csv', target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const t = host.lastTrace;
  if (!t) { void host.notify('info', 'SkipGPT: no completion trace to export yet.'); return undefined; }
  const uri = target ?? await vscode.window.showSaveDialog({
    filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] }, saveLabel: `Export trace as ${format.toUpperCase()}`,
    defaultUri: vscode.workspace.workspaceFolders?.[0] ? vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, `skipgpt-trace.${format}`) : undefined,
  });
  if (!uri) return undefined;
  await writeFile(uri.fsPath, format === 'json' ? traceToJson(t) : traceToCsv(t), 'utf8');
  return uri;
}
