// The status bar item: engine state (loading / ready / generating / error), last latency, tokens/s, skip rate and target;
// clicking it opens the skip-rate panel. The wording comes from status/text.ts.
import * as vscode from 'vscode';
import type { SkipgptSettings } from '../completion/settings';
import { describeDial, resolveDial } from '../completion/sparsityDial';
import { statusView } from '../status/text';
import type { EngineGate } from './engineGate';
import type { EngineHost } from './engineHost';
import type { TraceRecorder } from './traceRecorder';

export class SkipgptStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('skipgpt.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subs: vscode.Disposable[];

  constructor(private readonly host: EngineHost, private readonly gate: EngineGate, private readonly traces: TraceRecorder,
    private readonly settings: () => SkipgptSettings) {
    this.item.name = 'SkipGPT';
    this.item.command = 'skipgpt.openPanel';
    this.subs = [host.onDidChange(() => this.update()), gate.onDidChangeBusy(() => this.update()), traces.onDidTrace(() => this.update())];
    this.update();
    this.item.show();
  }

  /** What the item shows now (the test observer reads it). */
  get shown(): { text: string; tooltip: string } { return { text: this.item.text, tooltip: String(this.item.tooltip ?? '') }; }

  update(): void {
    const s = this.settings(), h = this.host, info = h.info;
    const dial = resolveDial(s, { thresholdDefault: info?.thresholdDefault, calibration: info?.calibration });
    const v = statusView({ state: h.ready && this.gate.busy ? 'generating' : h.state, model: info?.name, error: h.error,
      last: this.traces.lastFigures, inlineEnabled: s.inlineEnabled, threshold: dial.threshold, routing: describeDial(dial),
      target: dial.target, fallback: dial.fallback, ep: info?.executionProvider, epReason: info?.providerReason });
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.backgroundColor = v.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void { for (const s of this.subs) s.dispose(); this.item.dispose(); }
}
