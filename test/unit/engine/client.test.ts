// EngineClient over the real engine process on the tiny fixture: a separate process, load, streamed completion with
// traces (typed arrays across the IPC channel), stop sequences, cancellation by message (running, queued, during a
// prefill), and errors that do not end the engine. Crashes, restart and dispose: process.test.ts.
import * as assert from 'node:assert';
import { EngineClient } from '../../../extension/engine/client';
import type { TokenTrace } from '../../../extension/engine/protocol';
import { join } from 'node:path';
import { enginePath, readParity, repoRoot, tinyDir } from './fixture';

describe('engine/client (engine process)', () => {
  let client: EngineClient;
  before(async () => {
    client = new EngineClient({ enginePath });
    const info = await client.load(tinyDir, { executionProvider: 'auto', threads: 1 });
    // auto measured: the CPU first, then WebGPU (a real adapter where set-up installed the software Vulkan device,
    // else it fails to load) in its own process; whichever won, every candidate comes with figures or a reason.
    assert.match(info.providerReason, /^auto: /);
    assert.deepStrictEqual(info.probes.map((p) => p.ep), ['cpu', 'webgpu']);
    assert.ok(info.probes.every((p) => p.reason.length > 0) && info.probes[0].stepMs! > 0, JSON.stringify(info.probes));
    const chosen = info.probes.find((p) => p.ep === info.executionProvider);
    assert.ok(chosen?.ok, `the chosen provider passed its probe: ${JSON.stringify(info.probes)}`);
  });
  after(async () => { await client?.dispose(); });

  it('runs in a process of its own', () => {
    const pid = client.pid;
    assert.ok(pid !== undefined && pid !== process.pid, `engine pid ${pid}`);
    process.kill(pid, 0);  // throws if there is no such process
    assert.ok(client.isRunning);
  });

  it('streams tokens with traces and resolves with the same tokens, text and timings', async () => {
    const streamed: TokenTrace[] = [];
    let shown = '';
    const r = await client.complete({ prompt: 'def add(a, b):\n    return', maxTokens: 6, tracePrompt: true }, {
      onToken: (t, text) => { streamed.push(t); shown += text; },
    });
    assert.strictEqual(r.tokens.length, 6);
    assert.deepStrictEqual(streamed.map((t) => t.id), r.tokens.map((t) => t.id));
    assert.strictEqual(shown, r.text);
    const L = 3;
    assert.ok(r.tokens.every((t) => t.attn.length === L && t.pMlp.length === L && t.ms > 0));
    // serialization 'advanced': the traces arrive as typed arrays, not as plain objects
    assert.ok(streamed[0].attn instanceof Uint8Array && streamed[0].pAttn instanceof Float32Array);
    assert.ok(r.prompt && r.prompt.length > 0 && r.prompt.every((t) => t.attn instanceof Uint8Array));
    assert.ok(r.timings.prefillTokens > 0 && r.timings.decodeTokens === 5 && r.timings.decodeTokPerS > 0);
  });

  it('greedy through the engine process equals PyTorch greedy (parity.json)', async () => {
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

  it('cancel: abort after the first token ends the request early, reason cancelled', async () => {
    // An engine whose steps take 5 ms (crash-engine.ts): 400 tokens take 2 s, far longer than the cancel's trip even
    // on a loaded machine, so the test checks cancellation, not the scheduler (one token with the default model:
    // process.test.ts).
    process.env.SKIPGPT_TEST_STEP_DELAY_MS = '5';
    const slow = new EngineClient({ enginePath: join(repoRoot, 'out', 'test', 'unit', 'engine', 'crash-engine.js') });
    delete process.env.SKIPGPT_TEST_STEP_DELAY_MS;
    await slow.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
    const ac = new AbortController();
    let streamed = 0;
    const r = await slow.complete({ prompt: 'x = ', maxTokens: 400, threshold: 0 }, {
      signal: ac.signal, onToken: () => { streamed++; ac.abort(); },
    }).finally(() => slow.dispose());
    assert.strictEqual(r.finishReason, 'cancelled');
    assert.ok(r.tokens.length < 20, `stopped after ${r.tokens.length} tokens`);
    assert.strictEqual(streamed, r.tokens.length);
    const pre = new AbortController(); pre.abort();
    const none = await client.complete({ prompt: 'x = ', maxTokens: 5 }, { signal: pre.signal });
    assert.strictEqual(none.finishReason, 'cancelled');
    assert.strictEqual(none.tokens.length, 0);
  });

  it('cancel: a request cancelled while queued never runs; the one ahead of it is not disturbed', async () => {
    const ahead = client.complete({ prompt: 'import os\n', maxTokens: 60, threshold: 0, reusePrefix: false });
    const ac = new AbortController();
    let queuedTokens = 0;
    const queued = client.complete({ prompt: 'def f(x):', maxTokens: 20 }, { signal: ac.signal, onToken: () => { queuedTokens++; } });
    ac.abort();
    const [a, q] = await Promise.all([ahead, queued]);
    assert.strictEqual(a.tokens.length, 60);
    assert.strictEqual(q.finishReason, 'cancelled');
    assert.deepStrictEqual([q.tokens.length, q.timings.prefillTokens, queuedTokens], [0, 0, 0]);
  });

  it('cancel: a long prefill stops between chunks', async () => {
    const slow = new EngineClient({ enginePath });
    try {
      await slow.load(tinyDir, { executionProvider: 'cpu', threads: 1, prefillChunk: 1 });
      const ids = Array.from({ length: 480 }, (_, i) => 10 + (i % 300));
      const ac = new AbortController();
      let tokens = 0;
      const run = slow.complete({ ids, maxTokens: 4, threshold: 0 }, { signal: ac.signal, onToken: () => { tokens++; } });
      setTimeout(() => ac.abort(), 30);
      const r = await run;
      assert.strictEqual(r.finishReason, 'cancelled');
      assert.strictEqual(tokens, 0);
      assert.ok(r.timings.prefillTokens < ids.length, `prefilled ${r.timings.prefillTokens} of ${ids.length}`);
    } finally {
      await slow.dispose();
    }
  });

  it('a bad request is an error and the engine keeps serving', async () => {
    await assert.rejects(client.complete({ prompt: 'x', maxTokens: 0 }), /maxTokens must be a positive integer/);
    await assert.rejects(client.complete({ prompt: 'x', threshold: -1 }), /threshold must be a number >= 0/);
    const r = await client.complete({ prompt: 'x', maxTokens: 2 });
    assert.strictEqual(r.tokens.length, 2);
  });

  it('without a model: load() of a missing folder rejects, the engine stays up, complete() says no model', async () => {
    const empty = new EngineClient({ enginePath });
    try {
      await assert.rejects(empty.load('/nonexistent/model'), /does not exist/);
      assert.ok(empty.isRunning);
      await assert.rejects(empty.complete({ prompt: 'x' }), /no model loaded/);
    } finally {
      await empty.dispose();
    }
  });
});
