// Commands and settings in the real host: sparsity (thresholds and skip-rate presets), dense mode, the inline toggle,
// the benchmark, logs.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { thresholdForSkipRate } from '../../../extension/engine/sparsity';
import { getApi, openAt, revert, setSetting, sleep, waitFor } from './helpers';

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

  it('a skip-rate preset: the next suggestion asks for that rate and the status bar shows target and realised rate', async () => {
    const api = await getApi();
    const cal = { router: { calibration: api.host.info()!.calibration } };
    assert.ok(cal.router.calibration, 'the tiny fixture carries a calibration');
    // The preset is picked by its label from the same list the quick pick shows (sparsityDial.sparsityItems).
    await vscode.commands.executeCommand('skipgpt.setSparsity', { preset: 'Fast 30%' });
    assert.strictEqual(cfg().get('skipRate'), 0.3);
    await waitFor(() => /Routing: target skip 30% \(threshold /.test(api.host.status().tooltip), 5000, 'status tooltip to show the target');
    const editor = await openAt('sample.py', 15);
    const calls = api.inlineCalls, before = api.host.lastTrace();
    await vscode.commands.executeCommand('skipgpt.completeAtCursor');
    await waitFor(() => api.inlineCalls > calls && api.lastInline?.source === 'model' && api.host.lastTrace() !== before, 30000,
      'a model suggestion at the 30% target (not a cached one from another sparsity)');
    const t = api.host.lastTrace()!;
    assert.strictEqual(t.request.skipRate, 0.3, 'the request carries the target skip rate');
    assert.strictEqual(t.request.threshold, undefined, 'and no threshold');
    assert.strictEqual(t.threshold, thresholdForSkipRate(cal, 0.3).threshold, 'the engine ran at the calibrated threshold');
    await waitFor(() => /\d+ ms · \d+ tok\/s · skip \d+% \(target 30%\)/.test(api.host.status().text), 5000, 'status text: realised and target rate');
    console.log(`rate preset: status "${api.host.status().text}", threshold ${t.threshold}`);
    await revert(editor);
    // "Model default" clears the target: the model's default threshold applies again.
    await vscode.commands.executeCommand('skipgpt.setSparsity', { preset: 'Model default' });
    assert.strictEqual(cfg().inspect('skipRate')?.globalValue, undefined);
    await waitFor(() => /Routing: threshold 0\.5\b/.test(api.host.status().tooltip), 5000, 'status tooltip back to the default threshold');
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
