// Commands and settings in the real host: sparsity, dense mode, the inline toggle, the benchmark, logs.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { getApi, openAt, setSetting, sleep, waitFor } from './helpers';

const cfg = () => vscode.workspace.getConfiguration('skipgpt');

describe('commands', () => {
  it('contributes every SkipGPT command', async () => {
    await getApi();
    const all = await vscode.commands.getCommands(true);
    for (const id of ['completeAtCursor', 'openPanel', 'openInspector', 'setSparsity', 'toggleDenseMode', 'chooseModelFolder',
      'toggleInlineCompletions', 'runBenchmark', 'showLogs', 'exportTrace', 'restartEngine']) {
      assert.ok(all.includes(`skipgpt.${id}`), `skipgpt.${id}`);
    }
  });

  it('set sparsity and dense mode change the threshold the status bar reports', async () => {
    const api = await getApi();
    await vscode.commands.executeCommand('skipgpt.setSparsity', 0.65);
    assert.strictEqual(cfg().get('threshold'), 0.65);
    await vscode.commands.executeCommand('skipgpt.toggleDenseMode');
    assert.strictEqual(cfg().get('denseMode'), true);
    await waitFor(() => /Routing: dense/.test(api.host.status().tooltip), 5000, 'status tooltip to say dense');
    await vscode.commands.executeCommand('skipgpt.toggleDenseMode');
    await waitFor(() => /threshold 0\.65/.test(api.host.status().tooltip), 5000, 'status tooltip to show the threshold');
    // The "Trained" preset clears the setting: the model's own default (LoadInfo.thresholdDefault) applies again.
    await vscode.commands.executeCommand('skipgpt.setSparsity', null);
    assert.strictEqual(cfg().inspect('threshold')?.globalValue, undefined);
    await waitFor(() => /threshold 0\.5\b/.test(api.host.status().tooltip), 5000, 'status tooltip to show the model default');
    await setSetting('denseMode', undefined);
  });

  it('toggling inline completions off stops the provider from being asked', async () => {
    const api = await getApi();
    await vscode.commands.executeCommand('skipgpt.toggleInlineCompletions');
    assert.strictEqual(cfg().get('inlineCompletions.enabled'), false);
    await sleep(300);
    await openAt('sample.py', 2);
    const calls = api.inlineCalls;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(1000);
    assert.strictEqual(api.inlineCalls, calls, 'provider not called while off');
    assert.match(api.host.status().text, /\(off\)/);
    await vscode.commands.executeCommand('skipgpt.toggleInlineCompletions');
    assert.strictEqual(cfg().get('inlineCompletions.enabled'), true);
  });

  it('runs the dense-vs-routed benchmark on the current file', async () => {
    const api = await getApi();
    await openAt('sample.js');
    const r = await vscode.commands.executeCommand<{ dense: { tokPerS: number }; routed: { tokPerS: number; attnSkip: number }; rows: unknown[]; speedup: number }>(
      'skipgpt.runBenchmark', { prompts: 2, maxTokens: 8, show: false });
    assert.ok(r, 'a benchmark result');
    assert.strictEqual(r.rows.length, 4);
    assert.ok(r.dense.tokPerS > 0 && r.routed.tokPerS > 0);
    assert.ok(r.routed.attnSkip > 0, 'the routed runs skipped some attention');
    assert.match(api.benchmark!.report, /Routed \/ dense decode speed: \*\*[\d.]+×\*\*/);
    console.log(api.benchmark!.report);
  });

  it('shows the logs channel', async () => {
    await vscode.commands.executeCommand('skipgpt.showLogs');
  });
});
