// Issue-13 guarantees checked in the real extension host (docs/GUARANTEES.md): restarting the engine while a
// completion runs settles the request and leaves the host up; onnxruntime writes no telemetry files under the host's
// HOME and TMPDIR (the engine inherits both); a huge document gets a suggestion with a bounded prompt.
import * as assert from 'node:assert';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getApi, sleep, waitFor } from './helpers';

async function hostAlive(): Promise<void> {
  const cmds = await vscode.commands.getCommands(true);
  assert.ok(cmds.length > 100);
}

describe('hardening in the real host (issue 13)', () => {
  it('Restart Engine while a completion runs: the request settles, the host stays up, the next completion works', async function () {
    this.timeout(120000);
    const api = await getApi();
    await waitFor(() => api.host.ensureLoaded(), 60000, 'model loaded');
    const before = api.host.pid();
    let tokens = 0;
    const running = api.host.complete({ prompt: 'def f(x):\n    return', maxTokens: 400, threshold: 0 },
      { record: false, onToken: () => { tokens += 1; } });
    const settled = running.then((r) => `resolved ${r.finishReason}`, (e: Error) => `rejected ${e.message}`);
    await waitFor(() => tokens > 2, 30000, 'the completion to be generating');
    await vscode.commands.executeCommand('skipgpt.restartEngine');
    const how = await Promise.race([settled, sleep(20000).then(() => 'still pending')]);
    assert.match(how, /resolved cancelled|rejected .*engine (restarted|disposed)/, how);
    await hostAlive();
    await waitFor(() => api.host.state() === 'ready' && api.host.pid() !== before, 60000, 'a fresh engine');
    const r = await api.host.complete({ prompt: 'def f(x):\n    return', maxTokens: 4, threshold: 0.5 }, { record: false });
    assert.strictEqual(r.tokens.length, 4);
  });

  it('no onnxruntime telemetry files under HOME or TMPDIR after the engine has run 11 s', async function () {
    this.timeout(60000);
    const api = await getApi();
    // A fresh engine, so that every file written from now on is its doing (other tools leave files in /tmp).
    const before = api.host.pid(), t0 = Date.now() - 1000;
    await vscode.commands.executeCommand('skipgpt.restartEngine');
    await waitFor(() => api.host.state() === 'ready' && api.host.pid() !== before, 60000, 'a fresh engine');
    const pid = api.host.pid()!;
    await api.host.complete({ prompt: 'import os\n', maxTokens: 4, threshold: 0.5 }, { record: false });
    await sleep(11000);  // onnxruntime's telemetry acted ~9.5 s after start when it was on (issue 13, row 2)
    assert.strictEqual(api.host.pid(), pid, 'the same engine ran the whole time');
    const ortCache = path.join(homedir(), '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime');
    assert.ok(!existsSync(ortCache), `${ortCache} was written`);
    for (const dir of new Set([tmpdir(), '/tmp'])) {
      const written = readdirSync(dir).filter((f) => (f === '.ses' || /^mat-debug-\d+\.log$/.test(f)) &&
        statSync(path.join(dir, f)).mtimeMs >= t0);
      assert.deepStrictEqual(written, [], `telemetry files in ${dir} (engine pid ${pid})`);
    }
  });

  it('a huge document (8 M characters): a suggestion from a prompt cut to the budget, the host stays up', async function () {
    this.timeout(180000);
    const api = await getApi();
    await waitFor(() => api.host.ensureLoaded(), 60000, 'model loaded');
    const block = 'def add(a, b):\n    """Sum."""\n    return a + b\n\n\n';
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: `${block.repeat(Math.ceil(8e6 / block.length))}def f(` });
    assert.ok(doc.getText().length > 8e6);
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(end, end);
    const calls = api.inline.length;
    await vscode.commands.executeCommand('skipgpt.completeAtCursor');
    const rec = await waitFor(() => api.inline.slice(calls).find((x) => x.outcome.result), 120000, 'a suggestion for the huge document');
    const r = rec.outcome.result!, budget = rec.outcome.request!.budget!;
    const promptTokens = r.timings.reusedTokens + r.timings.prefillTokens;
    assert.ok(promptTokens <= budget + 8, `prompt of ${promptTokens} tokens for a budget of ${budget}`);
    assert.ok(r.window && r.window.start > 7.9e6, `the prompt is the end of the document: ${JSON.stringify(r.window)}`);
    await hostAlive();
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
