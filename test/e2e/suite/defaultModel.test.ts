// One end-to-end check with the default SmolLM2 model (models/<DEFAULT_MODEL_SUBDIR>, or SKIPGPT_E2E_SMOLLM2), when
// it has been built: an inline suggestion, then the panel and the inspector on its trace, with screenshots for the docs.
import * as assert from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_MODEL_SUBDIR } from '../../../extension/model/folder';
import { census, getApi, openAt, revert, ROOT, setSetting, shot, sleep, TINY, waitFor } from './helpers';

const DEFAULT_MODEL = process.env.SKIPGPT_E2E_SMOLLM2 || path.join(ROOT, DEFAULT_MODEL_SUBDIR);

describe('default SmolLM2 model', () => {
  it('completes Python code with the default model and shows its routing', async function () {
    if (!existsSync(path.join(DEFAULT_MODEL, 'manifest.json'))) {
      console.log(`SKIP default-model test: ${DEFAULT_MODEL}/manifest.json not found (build the model first: bash scripts/setup.sh)`);
      this.skip();
    }
    this.timeout(300000);
    const api = await getApi();
    await setSetting('modelFolder', DEFAULT_MODEL);
    try {
      await waitFor(() => api.host.state() === 'ready' && api.host.modelDir() === DEFAULT_MODEL, 180000, 'the default model to load');
      assert.strictEqual(api.host.info()?.dims.layers, 30);
      const editor = await openAt('sample.py', 8);               // end of `    return fibonacci(n - 1) + fibonacci(n - 2)`
      await vscode.commands.executeCommand('type', { text: '\n\n\ndef is_even(n):\n' });
      const calls = api.inlineCalls;
      await vscode.commands.executeCommand('skipgpt.completeAtCursor');
      const out = await waitFor(() => api.inlineCalls > calls && api.lastInline?.text, 120000, 'a suggestion from SmolLM2');
      console.log(`SmolLM2 suggestion (${api.host.info()?.name}):`, JSON.stringify(out));
      assert.ok(/\S/.test(out));
      assert.strictEqual(api.host.lastTrace()!.tokens[0].attn.length, 30);

      const runs = api.panelRuns.length;
      await vscode.commands.executeCommand('skipgpt.openPanel', { run: true, withDense: true });
      await waitFor(() => api.panelRuns.length > runs, 120000, 'the panel runs');
      const { routed, dense } = api.panelRuns[api.panelRuns.length - 1];
      await waitFor(async () => (await census('panel', 'smollm2-panel-wait'))?.tokens === routed + dense, 20000, 'the panel to render', 500);
      // Earlier suites leave error toasts (bad model folders); the screenshots are for the docs.
      await vscode.commands.executeCommand('notifications.clearAll');
      await shot('smollm2-panel');
      await vscode.commands.executeCommand('skipgpt.openInspector');
      const n = api.host.lastTrace()!.tokens.length;
      await waitFor(async () => (await census('inspector', 'smollm2-inspector-wait'))?.cells === n * 30, 60000, 'the inspector', 500);
      await shot('smollm2-inspector');

      // A background prime of a long prompt (~3,000 tokens, ~8 s of prefill here) gives way to the next foreground request.
      const long = readFileSync(path.join(ROOT, 'extension', 'engine', 'generate.ts'), 'utf8');
      const prime = api.host.complete({ prompt: long, maxTokens: 1, threshold: 0.5 }, { background: true, record: false });
      await sleep(150);
      const fg = await api.host.complete({ prompt: 'def add(a, b):\n', maxTokens: 4, threshold: 0.5 }, { record: false });
      const primed = await prime;
      assert.strictEqual(primed.finishReason, 'cancelled', `the prime gave way: ${JSON.stringify(primed.timings)}`);
      assert.ok(fg.tokens.length > 0);
      await revert(editor);
    } finally {
      await setSetting('modelFolder', TINY);
    }
  });
});
