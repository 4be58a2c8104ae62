// The skip-rate panel (a WebviewPanel): runs a completion from the selection or the cursor's prefix and streams it
// token by token with its routing, then optionally the same prompt dense (threshold 0) beside it, marking where the
// routed output diverges. Messages are validated (webviews/protocol.ts); nothing is sent before the ready handshake.
import * as vscode from 'vscode';
import type { CompletionEngine } from '../completion/engineApi';
import { SKIP_ALL_THRESHOLD, type SkipgptSettings } from '../completion/settings';
import { describeDial, resolveDial, type Dial } from '../completion/sparsityDial';
import type { CompleteRequest, TokenTrace } from '../engine/protocol';
import { firstDivergence, summarize } from '../routing/stats';
import { parseWebviewMessage, tokenView, type HostToWebview, type RunKind, type SummaryView } from '../webviews/protocol';
import type { EngineHost } from './engineHost';
import type { TestObserver } from './testObserver';
import { webviewHtml, webviewOptions } from './webviewHtml';

export function summaryView(tokens: readonly TokenTrace[], host: EngineHost, wallMs?: number): SummaryView {
  const s = summarize(tokens, host.info?.dims, wallMs);
  return { tokens: s.tokens, tokensPerSec: s.tokensPerSec, attnSkip: s.attnSkip, mlpSkip: s.mlpSkip, weightsReadFraction: s.weightsReadFraction ?? null };
}

/** The sparsity in effect for the loaded model: a target skip rate (calibrated models), else a threshold. */
export function dialOf(host: EngineHost, s: SkipgptSettings): Dial {
  return resolveDial(s, { thresholdDefault: host.info?.thresholdDefault, calibration: host.info?.calibration });
}

/** What both webviews render against: the model (LoadInfo) and the sparsity in effect (target rate and threshold). */
export function initMessage(host: EngineHost, s: SkipgptSettings): HostToWebview {
  const info = host.info, dial = dialOf(host, s);
  return { type: 'init', layers: info?.layers ?? 0, threshold: dial.threshold ?? null, maxThreshold: SKIP_ALL_THRESHOLD,
    model: info?.name ?? '', target: dial.target ?? null, expected: dial.expected ?? null, calibrated: !!info?.calibration,
    routing: describeDial(dial) };
}

/** The request a panel run uses: the selection if there is one, else the text before the cursor (engine-budgeted). */
export function panelRequest(editor: vscode.TextEditor | undefined, s: SkipgptSettings): CompleteRequest | undefined {
  if (!editor) return undefined;
  const doc = editor.document;
  if (!editor.selection.isEmpty) return { prompt: doc.getText(editor.selection) };
  const prefix = doc.getText(new vscode.Range(new vscode.Position(0, 0), editor.selection.active));
  return { prefix, filename: vscode.workspace.asRelativePath(doc.uri, false), budget: s.promptTokens };
}

export interface PanelDeps {
  extensionUri: vscode.Uri;
  host: EngineHost;
  engine: CompletionEngine;
  settings: () => SkipgptSettings;
  editor: () => vscode.TextEditor | undefined;
  observer?: TestObserver;
}

export class SkipRatePanel implements vscode.Disposable {
  static readonly viewType = 'skipgpt.panel';
  private static current: SkipRatePanel | undefined;
  readonly panel: vscode.WebviewPanel;
  private ready = false;
  private runId = 0;
  private pendingRun?: boolean;
  private readonly subs: vscode.Disposable[] = [];

  /** Opens (or reveals) the panel; `run` starts a completion as soon as the webview is ready. */
  static show(d: PanelDeps, run?: { withDense: boolean }): SkipRatePanel {
    const p = SkipRatePanel.current ?? new SkipRatePanel(d);
    p.panel.reveal(vscode.ViewColumn.Beside, true);
    if (run) { if (p.ready) void p.run(run.withDense); else p.pendingRun = run.withDense; }
    return p;
  }

  static get instance(): SkipRatePanel | undefined { return SkipRatePanel.current; }

  private constructor(private readonly d: PanelDeps) {
    this.panel = vscode.window.createWebviewPanel(SkipRatePanel.viewType, 'SkipGPT: Skip Rates',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { ...webviewOptions(d.extensionUri), retainContextWhenHidden: true });
    this.panel.iconPath = vscode.Uri.joinPath(d.extensionUri, 'media', 'skipgpt.svg');
    this.panel.webview.html = webviewHtml(this.panel.webview, d.extensionUri, 'panel', 'SkipGPT: Skip Rates');
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
      this.post(initMessage(this.d.host, this.d.settings()));
      if (this.pendingRun !== undefined) { const dense = this.pendingRun; this.pendingRun = undefined; void this.run(dense); }
    } else if (m.type === 'run') void this.run(m.withDense);
  }

  /** Routed run (streamed), then a dense run of the same prompt when asked. */
  async run(withDense: boolean): Promise<void> {
    const { host, settings } = this.d;
    if (!(await host.ensureLoaded(true))) { this.post({ type: 'error', message: host.error ?? 'No model loaded.' }); return; }
    const s = settings();
    const req = panelRequest(this.d.editor(), s);
    if (!req) { this.post({ type: 'error', message: 'Open a file and place the cursor (or select text) to complete from.' }); return; }
    this.post(initMessage(host, s));
    try {
      const dial = dialOf(host, s);
      const routed = await this.stream({ ...req, maxTokens: s.maxTokens, temperature: 0, ...dial.request }, 'routed', dial.threshold);
      const dense = withDense ? await this.stream({ ...req, maxTokens: s.maxTokens, temperature: 0, threshold: 0 }, 'dense', 0, routed) : [];
      this.d.observer?.panelRuns.push({ routed: routed.length, dense: dense.length });
    } catch (e) {
      this.post({ type: 'error', message: `Completion failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  /** `threshold`: what the run uses (a request with a skipRate gets it from the same calibration in the engine). */
  private async stream(req: CompleteRequest, kind: RunKind, threshold: number | undefined, routed?: TokenTrace[]): Promise<TokenTrace[]> {
    const runId = ++this.runId;
    const shown = req.prompt ?? req.prefix ?? '';
    this.post({ type: 'runStart', runId, kind, prompt: shown.slice(-2000), threshold: threshold ?? req.threshold ?? 0, target: req.skipRate ?? null });
    let i = 0;
    const t0 = Date.now();
    const r = await this.d.engine.complete(req, {
      record: kind === 'routed',
      onToken: (t) => this.post({ type: 'token', runId, kind, token: tokenView(t, i++) }),
    });
    const divergence = routed ? firstDivergence(routed, r.tokens) : undefined;
    this.post({ type: 'runEnd', runId, kind, summary: summaryView(r.tokens, this.d.host, Date.now() - t0), divergence });
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
