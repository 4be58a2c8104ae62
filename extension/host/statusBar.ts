// The status bar item: engine state (loading / ready / generating / error), last latency, tokens/s and skip rate;
// clicking it opens the skip-rate panel. The wording comes from status/text.ts.
import * as vscode from 'vscode';
import { effectiveThreshold, type SkipgptSettings } from '../completion/settings';
import { statusView } from '../status/text';
import type { EngineHost } from './engineHost';

export class SkipgptStatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('skipgpt.status', vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(private readonly host: EngineHost, private readonly settings: () => SkipgptSettings) {
    this.item.name = 'SkipGPT';
    this.item.command = 'skipgpt.openPanel';
    this.sub = host.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  update(): void {
    const s = this.settings();
    const v = statusView({ state: this.host.state, model: this.host.modelName, error: this.host.error, last: this.host.last,
      inlineEnabled: s.inlineEnabled, threshold: effectiveThreshold(s), ep: this.host.executionProvider,
      epReason: this.host.providerReason });
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.backgroundColor = v.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void { this.sub.dispose(); this.item.dispose(); }
}
