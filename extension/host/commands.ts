// The command palette entries (category "SkipGPT"): complete at cursor, panel, inspector, sparsity, dense mode,
// model folder, inline toggle, benchmark, logs, trace export, engine restart. Each handler is small; the work lives in
// the engine host, the webviews and the vscode-free modules.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_SKIP_RATE, parseThresholdInput, type SkipgptSettings } from '../completion/settings';
import { describeDial, findItem, parseSkipRateInput, resolveDial, sparsityItems, type ModelSparsity, type SparsityItem } from '../completion/sparsityDial';
import { benchmarkReport, runBenchmark } from '../routing/benchmark';
import { updateSetting } from './config';
import type { EngineGate } from './engineGate';
import type { EngineHost } from './engineHost';
import type { SkipgptInlineProvider } from './inline';
import { exportTrace } from './inspector';
import type { Notifier } from './notifier';
import { SkipRatePanel, type PanelDeps } from './panel';
import type { TestObserver } from './testObserver';
import type { TraceRecorder } from './traceRecorder';

export interface CommandDeps {
  host: EngineHost;
  gate: EngineGate;
  traces: TraceRecorder;
  notifier: Notifier;
  panel: PanelDeps;
  provider: SkipgptInlineProvider;
  settings: () => SkipgptSettings;
  lastEditor: () => vscode.TextEditor | undefined;
  log: vscode.LogOutputChannel;
  observer?: TestObserver;
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const reg = (id: string, fn: (...args: any[]) => unknown) => vscode.commands.registerCommand(id, fn);
  return [
    reg('skipgpt.completeAtCursor', async () => {
      if (!(await d.host.ensureLoaded(true))) return;
      d.provider.triggeredManually();               // skip the debounce for the request this triggers
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    }),
    reg('skipgpt.openPanel', (opts?: { run?: boolean; withDense?: boolean }) => {
      const run = opts?.run ?? d.lastEditor() !== undefined;
      return SkipRatePanel.show(d.panel, run ? { withDense: opts?.withDense ?? true } : undefined);
    }),
    reg('skipgpt.openInspector', () => vscode.commands.executeCommand('skipgpt.inspector.focus')),
    // Scripted forms: a threshold (null = the model's default), `{ skipRate }` (null = none), `{ preset: 'Fast 30%' }`.
    reg('skipgpt.setSparsity', async (arg?: number | null | { skipRate: number | null } | { preset: string }) => {
      if (typeof arg === 'number' || arg === null) { await apply({ skipRate: null, threshold: arg }); return; }
      if (arg && typeof arg === 'object' && 'skipRate' in arg) { await apply({ skipRate: arg.skipRate }); return; }
      const { items, note } = sparsityItems(model(), d.settings());
      let pick: SparsityItem | undefined;
      if (arg && typeof arg === 'object' && typeof arg.preset === 'string') {
        pick = findItem(items, arg.preset);
        if (!pick) { void d.notifier.notify('error', `SkipGPT: no sparsity preset "${arg.preset}" for this model${note ? ` (${note})` : ''}.`); return; }
      } else {
        pick = await vscode.window.showQuickPick(items, { title: 'SkipGPT: sparsity',
          placeHolder: note ?? 'a target share of sublayers to skip (the model\'s calibration picks the threshold), or a threshold' });
      }
      if (!pick) return;
      if (typeof pick.choice === 'object') { await apply(pick.choice); return; }
      const dial = resolveDial({ ...d.settings(), denseMode: false }, model());
      if (pick.choice === 'custom-rate') {
        const text = await vscode.window.showInputBox({ title: 'Target skip rate (% of sublayers skipped)',
          value: dial.target === undefined ? '' : String(Math.round(dial.target * 1000) / 10), validateInput: (t) => parseSkipRateInput(t).error });
        const v = text === undefined ? undefined : parseSkipRateInput(text).value;
        if (v !== undefined) await apply({ skipRate: v });
        return;
      }
      const text = await vscode.window.showInputBox({ title: 'Router threshold', value: dial.threshold === undefined ? '' : String(dial.threshold),
        validateInput: (t) => parseThresholdInput(t).error });
      const v = text === undefined ? undefined : parseThresholdInput(text).value;
      if (v !== undefined) await apply({ skipRate: null, threshold: v });
    }),
    reg('skipgpt.toggleDenseMode', async () => {
      const on = !d.settings().denseMode;
      await updateSetting('denseMode', on);
      void vscode.window.showInformationMessage(on ? 'SkipGPT: dense mode on (every sublayer runs).'
        : `SkipGPT: routed mode (${describeDial(resolveDial(d.settings(), model()))}).`);
    }),
    reg('skipgpt.chooseModelFolder', async (dir?: string) => {
      let folder = dir;
      if (!folder) {
        const pick = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
          title: 'SkipGPT: choose a model folder (with manifest.json)', openLabel: 'Use this model' });
        folder = pick?.[0]?.fsPath;
      }
      if (!folder) return;
      // Existence only: the engine reads and checks the files when it loads them, and says what is wrong.
      if (!existsSync(join(folder, 'manifest.json'))) {
        void d.notifier.notify('error', `SkipGPT: ${folder} is not a model folder: it has no manifest.json.`);
        return;
      }
      await updateSetting('modelFolder', folder);     // user settings: the only ones an untrusted workspace honours
    }),
    reg('skipgpt.toggleInlineCompletions', async () => {
      const on = !d.settings().inlineEnabled;
      await updateSetting('inlineCompletions.enabled', on);
      void vscode.window.showInformationMessage(`SkipGPT inline completions ${on ? 'on' : 'off'}.`);
    }),
    reg('skipgpt.runBenchmark', async (opts?: { prompts?: number; maxTokens?: number; show?: boolean }) => {
      const editor = d.lastEditor();
      if (!editor) { void d.notifier.notify('info', 'SkipGPT: open a file to benchmark on.'); return undefined; }
      if (!(await d.host.ensureLoaded(true)) || !d.host.info) return undefined;
      const s = d.settings(), info = d.host.info;
      // The threshold the dial gives (a target skip rate mapped through the calibration); in dense mode, compare
      // against the model's trained threshold.
      const threshold = resolveDial(s, model()).threshold || info.thresholdDefault;
      return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true,
        title: 'SkipGPT: dense vs routed benchmark' }, async (_p, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        try {
          const r = await runBenchmark(d.gate, editor.document.getText(), info.dims,
            { threshold, prompts: opts?.prompts, maxTokens: opts?.maxTokens, signal: ac.signal });
          const report = benchmarkReport(r, { file: vscode.workspace.asRelativePath(editor.document.uri), model: info.name,
            ep: info.executionProvider, threads: s.threads || 'default' });
          d.log.info(report);
          if (d.observer) d.observer.benchmark = { result: r, report };
          if (opts?.show !== false) {
            const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: report });
            await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
          }
          return r;
        } catch (e) {
          void d.notifier.notify('error', `SkipGPT benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        }
      });
    }),
    reg('skipgpt.showLogs', () => d.log.show()),
    reg('skipgpt.exportTrace', async (format?: 'json' | 'csv', target?: vscode.Uri | string) => {
      const f = format ?? (await vscode.window.showQuickPick(['json', 'csv'], { title: 'Export the latest routing trace as' })) as 'json' | 'csv' | undefined;
      if (f !== 'json' && f !== 'csv') return undefined;
      return exportTrace(d.traces, d.notifier, f, typeof target === 'string' ? vscode.Uri.file(target) : target);
    }),
    reg('skipgpt.restartEngine', () => d.host.restartEngine()),
  ];

  /** What the dial needs of the loaded model (LoadInfo). */
  function model(): ModelSparsity {
    return { thresholdDefault: d.host.info?.thresholdDefault, calibration: d.host.info?.calibration };
  }

  /** Writes a choice: a target skip rate and/or a threshold (null = the setting removed: no target / the model's
   * default threshold); leaves dense mode. */
  async function apply(c: { skipRate: number | null; threshold?: number | null }): Promise<void> {
    const t = c.threshold == null ? { value: undefined } : parseThresholdInput(String(c.threshold));
    if (t.error) { void d.notifier.notify('error', `SkipGPT: ${t.error}`); return; }
    const r = c.skipRate;
    if (r !== null && !(typeof r === 'number' && r >= 0 && r <= MAX_SKIP_RATE)) {
      void d.notifier.notify('error', `SkipGPT: a target skip rate must be from 0 to ${MAX_SKIP_RATE}, got ${r}.`);
      return;
    }
    const wasDense = d.settings().denseMode;
    await updateSetting('skipRate', r ?? undefined);
    if (c.threshold !== undefined) await updateSetting('threshold', t.value);
    if (wasDense) await updateSetting('denseMode', false);
  }
}
