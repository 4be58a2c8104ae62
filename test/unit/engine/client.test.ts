// EngineClient over a real worker thread on the tiny fixture: load, streamed completion with traces, stop
// sequences, cancellation, errors that do not kill the worker, and crash → rejected request → restart().
import * as assert from 'node:assert';
import { join } from 'node:path';
import { EngineClient } from '../../../extension/engine/client';
import type { TokenTrace } from '../../../extension/engine/protocol';
import { readParity, repoRoot, tinyDir, workerPath } from './fixture';

describe('engine/client (worker thread)', () => {
  let client: EngineClient;
  before(async () => {
    client = new EngineClient({ workerPath });
    const info = await client.load(tinyDir, { executionProvider: 'auto', threads: 1 });
    assert.strictEqual(info.executionProvider, 'cpu'); // no GPU here: WebGPU must have been passed over
    assert.ok(info.passedOver.some((p) => p.ep === 'webgpu' && p.reason.length > 0), JSON.stringify(info.passedOver));
  });
  after(async () => { await client?.dispose(); });

  it('streams tokens with traces and resolves with the same tokens, text and timings', async () => {
    const streamed: TokenTrace[] = [];
    let shown = '';
    const r = await client.complete({ prompt: 'def add(a, b):\n    return', maxTokens: 6 }, {
      onToken: (t, text) => { streamed.push(t); shown += text; },
    });
    assert.strictEqual(r.tokens.length, 6);
    assert.deepStrictEqual(streamed.map((t) => t.id), r.tokens.map((t) => t.id));
    assert.strictEqual(shown, r.text);
    const L = 3;
    assert.ok(r.tokens.every((t) => t.attn.length === L && t.pMlp.length === L && t.ms > 0));
    assert.ok(r.prompt.length > 0 && r.prompt.every((t) => t.attn instanceof Uint8Array));
    assert.ok(r.timings.prefillTokens > 0 && r.timings.decodeTokens === 5 && r.timings.decodeTokPerS > 0);
  });

  it('greedy through the worker equals PyTorch greedy (parity.json)', async () => {
    const c = readParity(tinyDir).cases.find((x) => x.threshold === 0.5)!;
    const r = await client.complete({ ids: c.prompt_ids, threshold: 0.5, maxTokens: c.greedy.ids.length, reusePrefix: false });
    assert.deepStrictEqual(r.tokens.map((t) => t.id), c.greedy.ids.slice(0, r.tokens.length));
  });

  it('stops before a stop sequence and never shows it', async () => {
    const free = await client.complete({ prompt: 'for i in range(10):\n    print(', maxTokens: 12, temperature: 1.5, seed: 3 });
    const stop = free.text.slice(2, 4);
    assert.ok(stop.length === 2, `need some text to pick a stop from: ${JSON.stringify(free.text)}`);
    let shown = '';
    const r = await client.complete({ prompt: 'for i in range(10):\n    print(', maxTokens: 12, temperature: 1.5, seed: 3, stop: [stop] },
      { onToken: (_t, text) => { shown += text; } });
    assert.strictEqual(r.finishReason, 'stop');
    assert.strictEqual(r.text, free.text.slice(0, free.text.indexOf(stop)));
    assert.ok(!shown.includes(stop) && shown === r.text);
  });

  it('cancellation: abort after the first token ends the request early with reason cancelled', async () => {
    const ac = new AbortController();
    const r = await client.complete({ prompt: 'x = ', maxTokens: 400, threshold: 0 }, {
      signal: ac.signal, onToken: () => ac.abort(),
    });
    assert.strictEqual(r.finishReason, 'cancelled');
    assert.ok(r.tokens.length < 400, `stopped after ${r.tokens.length} tokens`);
    const pre = new AbortController(); pre.abort();
    const none = await client.complete({ prompt: 'x = ', maxTokens: 5 }, { signal: pre.signal });
    assert.strictEqual(none.finishReason, 'cancelled');
    assert.strictEqual(none.tokens.length, 0);
  });

  it('a bad request is an error and the worker keeps serving', async () => {
    await assert.rejects(client.complete({ prompt: 'x', maxTokens: 0 }), /maxTokens must be a positive integer/);
    await assert.rejects(client.complete({ prompt: 'x', threshold: -1 }), /threshold must be a number >= 0/);
    const r = await client.complete({ prompt: 'x', maxTokens: 2 });
    assert.strictEqual(r.tokens.length, 2);
  });
});

describe('engine/client crash and restart', () => {
  it('a worker crash rejects the pending request with a clear error, emits crash, and restart() recovers', async () => {
    const client = new EngineClient({ workerPath: join(repoRoot, 'out', 'test', 'unit', 'engine', 'crash-worker.js') });
    try {
      await client.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
      const crashed = new Promise<Error>((resolve) => client.once('crash', resolve));
      await assert.rejects(client.complete({ prompt: '__crash__', maxTokens: 400 }),
        /engine worker stopped unexpectedly.*simulated crash.*restart\(\)/);
      assert.match((await crashed).message, /simulated crash/);
      assert.strictEqual(client.isRunning, false);
      await assert.rejects(client.complete({ prompt: 'x' }), /stopped unexpectedly/);
      const info = await client.restart();
      assert.strictEqual(info?.name, 'tiny');
      const r = await client.complete({ prompt: 'def', maxTokens: 3 });
      assert.strictEqual(r.tokens.length, 3);
    } finally {
      await client.dispose();
    }
  });

  it('an unloadable model folder rejects load() and leaves the worker alive', async () => {
    const client = new EngineClient({ workerPath });
    try {
      await assert.rejects(client.load('/nonexistent/model'), /does not exist/);
      assert.ok(client.isRunning);
      await assert.rejects(client.complete({ prompt: 'x' }), /no model loaded/);
    } finally {
      await client.dispose();
    }
  });
});
