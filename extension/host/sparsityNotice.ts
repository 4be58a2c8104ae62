// Says once, when `skipgpt.skipRate` is set but the loaded model has no calibration, that its threshold is used
// instead (a log line and a warning), so a target the model cannot honour never turns into failed suggestions nor
// into silence. Checked on every engine change (a model loaded) and settings change (extension.ts).
import type * as vscode from 'vscode';
import type { SkipgptSettings } from '../completion/settings';
import { resolveDial } from '../completion/sparsityDial';
import type { EngineHost } from './engineHost';
import type { Notifier } from './notifier';

export class SparsityFallbackNotice implements vscode.Disposable {
  /** The model and target already warned about: the same pair is not said twice. */
  private said?: string;
  private readonly sub: vscode.Disposable;

  constructor(private readonly host: EngineHost, private readonly settings: () => SkipgptSettings,
    private readonly log: vscode.LogOutputChannel, private readonly notifier: Notifier) {
    this.sub = host.onDidChange(() => this.check());
  }

  check(): void {
    const info = this.host.info, s = this.settings();
    const dial = resolveDial(s, { thresholdDefault: info?.thresholdDefault, calibration: info?.calibration });
    if (!dial.fallback) { this.said = undefined; return; }
    const key = `${info?.modelDir ?? ''}|${s.skipRate}`;
    if (key === this.said) return;
    this.said = key;
    this.log.warn(dial.fallback);
    void this.notifier.notify('warn', `SkipGPT: ${dial.fallback}`);
  }

  dispose(): void { this.sub.dispose(); }
}
