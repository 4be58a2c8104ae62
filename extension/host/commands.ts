// The command palette entries (category "SkipGPT"): complete at cursor, panel, inspector, sparsity, dense mode,
// model folder, inline toggle, benchmark, logs, trace export, engine restart. Each handler is small; the work lives in
// the engine host, the webviews and the vscode-free modules.
import * as vscode from 'vscode';
import { readModelFolder } from '../engine/manifest';
import { effectiveThreshold, parseThresholdInput, SPARSITY_PRESETS, type SkipgptSettings } from '../completion/settings';
import { benchmarkReport, runBenchmark, type BenchmarkResult } from '../routing/benchmark';
import { updateSetting } from './config';
import type { EngineHost } from './engineHost';
import type { SkipgptInlineProvider } from './inline';
import { exportTrace } from './inspector';
import { SkipRatePanel } from './panel';

export interface CommandDeps {
  extensionUri: vscode.Uri;
  host: EngineHost;
  provider: SkipgptInlineProvider;
  settings: () => SkipgptSettings;
  lastEditor: () => vscode.TextEditor | undefined;
  log: vscode.LogOutputChannel;
  onBenchmark: (r: BenchmarkResult, report: string) => void;
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const reg = (id: string, fn: (...args: any[]) => unknown) => vscode.commands.registerCommand(id, fn);
  return [
    reg('skipgpt.completeAtCursor', async () => {
      if (!(await d.host.ensureLoaded(true))) return;
      d.provider.manualUntil = Date.now() + 2000;   // skip the debounce for the request this triggers
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    }),
    reg('skipgpt.openPanel', (opts?: { run?: boolean; withDense?: boolean }) => {
      const run = opts?.run ?? d.lastEditor() !== undefined;
      return SkipRatePanel.show(d.extensionUri, d.host, d.settings, d.lastEditor, run ? { withDense: opts?.withDense ?? true } : undefined);
    }),
    reg('skipgpt.openInspector', () => vscode.commands.executeCommand('skipgpt.inspector.focus')),
    reg('skipgpt.setSparsity', async (value?: number) => {
      if (typeof value === 'number') { await setThreshold(value); return; }
      const current = d.settings().threshold;
      const items = [...SPARSITY_PRESETS.map((p) => ({ label: p.label, description: String(p.threshold), detail: p.detail, value: p.threshold as number | undefined })),
        { label: 'Custom threshold…', description: `now ${current}`, detail: 'type a router threshold between 0 and 1.01', value: undefined }];
      const pick = await vscode.window.showQuickPick(items, { title: 'SkipGPT: sparsity (router threshold)' });
      if (!pick) return;
      if (pick.value !== undefined) { await setThreshold(pick.value); return; }
      const text = await vscode.window.showInputBox({ title: 'Router threshold', value: String(current),
        validateInput: (t) => parseThresholdInput(t).error });
      const v = text === undefined ? undefined : parseThresholdInput(text).value;
      if (v !== undefined) await setThreshold(v);
    }),
    reg('skipgpt.toggleDenseMode', async () => {
      const on = !d.settings().denseMode;
      await updateSetting('denseMode', on);
      void vscode.window.showInformationMessage(on ? 'SkipGPT: dense mode on (every sublayer runs).' : `SkipGPT: routed mode (threshold ${d.settings().threshold}).`);
    }),
    reg('skipgpt.chooseModelFolder', async (dir?: string) => {
      let folder = dir;
      if (!folder) {
        const pick = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
          title: 'SkipGPT: choose a model folder (with manifest.json)', openLabel: 'Use this model' });
        folder = pick?.[0]?.fsPath;
      }
      if (!folder) return;
      try {
        readModelFolder(folder);
      } catch (e) {
        void d.host.notify('error', `SkipGPT: ${folder} is not a usable model folder: ${e instanceof Error ? e.message : String(e)}`);
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
      if (!editor) { void d.host.notify('info', 'SkipGPT: open a file to benchmark on.'); return undefined; }
      if (!(await d.host.ensureLoaded(true))) return undefined;
      const s = d.settings();
      const threshold = effectiveThreshold(s) || 0.5;     // in dense mode, compare against the trained threshold
      return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, cancellable: true,
        title: 'SkipGPT: dense vs routed benchmark' }, async (_p, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        try {
          const r = await runBenchmark(d.host, editor.document.getText(), d.host.shape,
            { threshold, prompts: opts?.prompts, maxTokens: opts?.maxTokens, signal: ac.signal });
          const report = benchmarkReport(r, { file: vscode.workspace.asRelativePath(editor.document.uri), model: d.host.modelName,
            ep: d.host.executionProvider, threads: s.threads || 'default' });
          d.log.info(report);
          d.onBenchmark(r, report);
          if (opts?.show !== false) {
            const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: report });
            await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
          }
          return r;
        } catch (e) {
          void d.host.notify('error', `SkipGPT benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        }
      });
    }),
    reg('skipgpt.showLogs', () => d.log.show()),
    reg('skipgpt.exportTrace', async (format?: 'json' | 'csv', target?: vscode.Uri | string) => {
      const f = format ?? (await vscode.window.showQuickPick(['json', 'csv'], { title: 'Export the latest routing trace as' })) as 'json' | 'csv' | undefined;
      if (f !== 'json' && f !== 'csv') return undefined;
      return exportTrace(d.host, f, typeof target === 'string' ? vscode.Uri.file(target) : target);
    }),
    reg('skipgpt.restartEngine', () => d.host.restartEngine()),
  ];

  async function setThreshold(v: number): Promise<void> {
    const r = parseThresholdInput(String(v));
    if (r.error) { void d.host.notify('error', `SkipGPT: ${r.error}`); return; }
    await updateSetting('threshold', r.value);
    if (d.settings().denseMode) await updateSetting('denseMode', false);
  }
}
