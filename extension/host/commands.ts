// The command palette entries (category "SkipGPT"): complete at cursor, panel, inspector, sparsity, dense mode,
// model folder, inline toggle, benchmark, logs, trace export, engine restart. Each handler is small; the work lives in
// the engine host, the webviews and the vscode-free modules.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { effectiveThreshold, parseThresholdInput, sparsityPresets, SKIP_ALL_THRESHOLD, type SkipgptSettings } from '../completion/settings';
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
    reg('skipgpt.setSparsity', async (value?: number | null) => {
      if (typeof value === 'number' || value === null) { await setThreshold(value); return; }
      const modelDefault = d.host.info?.thresholdDefault;
      const current = effectiveThreshold({ ...d.settings(), denseMode: false }, modelDefault);
      const items = [...sparsityPresets(modelDefault).map((p) => ({ label: p.label, description: p.threshold === null ? String(modelDefault ?? 'default') : String(p.threshold),
        detail: p.detail, value: p.threshold as number | null | undefined })),
        { label: 'Custom threshold…', description: `now ${current ?? 'the model default'}`, detail: `type a router threshold between 0 and ${SKIP_ALL_THRESHOLD}`, value: undefined }];
      const pick = await vscode.window.showQuickPick(items, { title: 'SkipGPT: sparsity (router threshold)' });
      if (!pick) return;
      if (pick.value !== undefined) { await setThreshold(pick.value); return; }
      const text = await vscode.window.showInputBox({ title: 'Router threshold', value: current === undefined ? '' : String(current),
        validateInput: (t) => parseThresholdInput(t).error });
      const v = text === undefined ? undefined : parseThresholdInput(text).value;
      if (v !== undefined) await setThreshold(v);
    }),
    reg('skipgpt.toggleDenseMode', async () => {
      const on = !d.settings().denseMode;
      await updateSetting('denseMode', on);
      const t = effectiveThreshold(d.settings(), d.host.info?.thresholdDefault);
      void vscode.window.showInformationMessage(on ? 'SkipGPT: dense mode on (every sublayer runs).'
        : `SkipGPT: routed mode (${t === undefined ? "the model's default threshold" : `threshold ${t}`}).`);
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
      // In dense mode, compare against the model's trained threshold.
      const threshold = effectiveThreshold(s, info.thresholdDefault) || info.thresholdDefault;
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

  /** A threshold, or null: back to the model's default (the setting removed). */
  async function setThreshold(v: number | null): Promise<void> {
    const r = v === null ? { value: undefined } : parseThresholdInput(String(v));
    if (r.error) { void d.notifier.notify('error', `SkipGPT: ${r.error}`); return; }
    await updateSetting('threshold', r.value);
    if (d.settings().denseMode) await updateSetting('denseMode', false);
  }
}
