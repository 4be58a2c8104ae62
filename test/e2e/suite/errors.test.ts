// Failure paths: a missing model folder, a corrupt model and a crashed engine process each give a clear message while
// the extension host stays up, and the extension recovers once the cause is gone.
import * as assert from 'node:assert';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getApi, openAt, setSetting, sleep, TINY, waitFor } from './helpers';

async function hostAlive(): Promise<void> {
  // The host answers API calls and runs other extensions' commands.
  const cmds = await vscode.commands.getCommands(true);
  assert.ok(cmds.length > 100);
}

describe('error paths (host stays up)', () => {
  afterEach(async () => { await setSetting('modelFolder', TINY); });

  it('missing model folder: a message naming it, state no-model', async () => {
    const api = await getApi();
    const n = api.messages.length;
    await setSetting('modelFolder', '/nonexistent/skipgpt-model');
    await waitFor(() => api.host.state() === 'no-model', 20000, 'state no-model');
    const msg = await waitFor(() => api.messages.slice(n).find((m) => m.includes('/nonexistent/skipgpt-model')), 5000, 'a message');
    assert.match(msg, /does not exist/);
    assert.match(api.host.status().text, /no model/);
    // Typing on does not retry the load or repeat the message on every keystroke.
    const shown = api.messages.length;
    await openAt('sample.py', 2);
    for (let i = 0; i < 3; i++) { await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'); await sleep(200); }
    assert.strictEqual(api.messages.length, shown, 'no repeated messages');
    assert.strictEqual(api.host.state(), 'no-model');
    await hostAlive();
  });

  it('corrupt model: a load error message, then recovery with a good folder', async () => {
    const api = await getApi();
    const bad = mkdtempSync(path.join(tmpdir(), 'sg-bad-'));
    for (const f of ['manifest.json', 'tokenizer.json', 'parity.json', 'model.onnx.data']) copyFileSync(path.join(TINY, f), path.join(bad, f));
    writeFileSync(path.join(bad, 'model.onnx'), Buffer.from('this is not an ONNX protobuf'.repeat(10)));
    const n = api.messages.length;
    await setSetting('modelFolder', bad);
    await waitFor(() => api.host.state() === 'error', 60000, 'state error');
    const msg = await waitFor(() => api.messages.slice(n).find((m) => m.includes(bad)), 5000, 'a message');
    assert.match(msg, /could not load the model/);
    await hostAlive();
    await setSetting('modelFolder', TINY);
    await waitFor(() => api.host.state() === 'ready', 60000, 'reload of the good model');
  });

  it('engine crash: a message, automatic restart, completions work again', async () => {
    const api = await getApi();
    await waitFor(() => api.host.ensureLoaded(), 60000, 'model loaded');
    const n = api.messages.length;
    // A crash as the host sees it: the engine process dies outside any request (a signal mid-generation:
    // engineCrash.test.ts).
    const pid = api.host.pid();
    assert.ok(pid, 'engine process running');
    process.kill(pid, 'SIGKILL');
    const msg = await waitFor(() => api.messages.slice(n).find((m) => /engine stopped/.test(m)), 10000, 'a crash message');
    assert.match(msg, /Restarting/);
    await hostAlive();
    await waitFor(() => api.host.state() === 'ready', 60000, 'restart after the crash');
    const r = await api.host.complete({ prompt: 'def f(x):\n    return', maxTokens: 4, threshold: 0.5 }, { record: false });
    assert.strictEqual(r.tokens.length, 4);
    await openAt('sample.py', 2);
  });
});
