// The engine process's life: native crashes (real signals sent to the engine's pid mid-generation, an abort with its
// stderr line, a non-zero exit) end only the engine, reject the request with the signal/code, emit 'crash', and
// restart() gives a fresh process with the last model; restart()/dispose() while a completion runs (issue 13 row 1)
// settle it as "engine restarted"/"engine disposed" and end the old process; a stuck engine is killed after the
// deadline; a bad load() keeps the good model serving (issue 13 row 6); no engine outlives its host. Once also
// with the default model.
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineClient } from '../../../extension/engine/client';
import type { CompleteRequest } from '../../../extension/engine/protocol';
import { copyFixture, defaultModelDir, enginePath, repoRoot, tinyDir } from './fixture';

const crashEngine = join(repoRoot, 'out', 'test', 'unit', 'engine', 'crash-engine.js');
const REQ: CompleteRequest = { prompt: 'def add(a, b):\n    return', maxTokens: 300, threshold: 0, reusePrefix: false };
const ids = (r: { tokens: { id: number }[] }) => r.tokens.map((t) => t.id);

function gone(pid: number): boolean {
  try { process.kill(pid, 0); return false; } catch { return true; }
}
/** Exited but not yet reaped (its parent was killed; init reaps it). */
function zombie(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false; } catch { return true; }
}

describe('engine process: crashes, restart, dispose, failed loads', function () {
  this.timeout(120_000);
  let cwd: string;
  const clients: EngineClient[] = [];
  const logs: string[] = [];
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'skipgpt-engine-cwd-'));  // where a core dump of a signalled engine would land
    process.env.SKIPGPT_TEST_ENGINE_CWD = cwd;
  });
  after(async () => {
    for (const c of clients) await c.dispose();
    delete process.env.SKIPGPT_TEST_ENGINE_CWD;
    rmSync(cwd, { recursive: true, force: true });
  });
  async function loaded(dir = tinyDir, path = crashEngine): Promise<EngineClient> {
    const c = new EngineClient({ enginePath: path });
    clients.push(c);
    c.on('log', (_level: string, m: string) => logs.push(m));
    await c.load(dir, { executionProvider: 'cpu', threads: 1 });
    return c;
  }

  for (const signal of ['SIGSEGV', 'SIGFPE', 'SIGABRT'] as const) {
    it(`${signal} sent to the engine mid-generation: request rejected naming it, 'crash', restart() recovers`, async () => {
      const client = await loaded();
      const before = await client.complete({ ...REQ, maxTokens: 8 });
      const pid = client.pid!;
      const crashed = new Promise<Error>((resolve) => client.once('crash', resolve));
      let streamed = 0;
      await assert.rejects(client.complete(REQ, { onToken: () => { if (++streamed === 2) process.kill(pid, signal); } }),
        new RegExp(`engine process \\(pid ${pid}\\) was killed by signal ${signal}`));
      assert.match((await crashed).message, new RegExp(signal));
      assert.ok(streamed >= 2 && streamed < 300, `${streamed} tokens streamed`);
      assert.strictEqual(client.isRunning, false);
      assert.strictEqual(client.pid, undefined);
      await assert.rejects(client.complete({ prompt: 'x' }), /killed by signal.*call restart\(\)/);
      const info = await client.restart();
      assert.strictEqual(info?.name, 'tiny');
      assert.ok(client.pid !== undefined && client.pid !== pid);
      assert.deepStrictEqual(ids(await client.complete({ ...REQ, maxTokens: 8 })), ids(before));
    });
  }

  it('an abort inside the engine: the crash error carries its last stderr line; a non-zero exit names the code', async () => {
    const client = await loaded();
    await assert.rejects(client.complete({ prompt: '__abort__' }), /killed by signal SIGABRT: terminate called: simulated native abort/);
    assert.ok(logs.some((l) => l.includes('simulated native abort')), 'stderr reached the log event');
    await client.restart();
    await assert.rejects(client.complete({ prompt: '__exit__' }), /exited with code 7/);
  });

  it('restart() while a completion runs (issue 13 row 1): it rejects as "engine restarted", the old process exits on its own', async () => {
    const client = await loaded();
    const before = await client.complete({ ...REQ, maxTokens: 8 });
    const pid = client.pid!;
    const n = logs.length;
    let restarting: Promise<unknown> | undefined;
    await assert.rejects(client.complete(REQ, { onToken: () => { restarting ??= client.restart(); } }), /engine restarted/);
    await restarting;
    assert.ok(gone(pid), 'old engine process ended');
    assert.ok(!logs.slice(n).some((l) => l.includes('killing it')), 'no SIGKILL needed');
    assert.deepStrictEqual(ids(await client.complete({ ...REQ, maxTokens: 8 })), ids(before));
  });

  it('dispose() while a completion runs: it rejects as "engine disposed", the process ends, restart() works after', async () => {
    const client = await loaded();
    const pid = client.pid!;
    let disposing: Promise<void> | undefined;
    await assert.rejects(client.complete(REQ, { onToken: () => { disposing ??= client.dispose(); } }), /engine disposed/);
    await disposing;
    assert.ok(gone(pid));
    assert.strictEqual(client.isRunning, false);
    await assert.rejects(client.complete({ prompt: 'x' }), /engine is stopped/);
    assert.strictEqual((await client.restart())?.name, 'tiny');
  });

  it('a stuck engine is killed after the deadline on dispose()', async () => {
    const client = new EngineClient({ enginePath: crashEngine, stopTimeoutMs: 300 });
    clients.push(client);
    const warned: string[] = [];
    client.on('log', (_l: string, m: string) => warned.push(m));
    await client.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
    const pid = client.pid!;
    const stuck = client.complete({ prompt: '__hang__', maxTokens: 2 });
    const settled = stuck.then(() => undefined, (e: Error) => e);  // it rejects during dispose()
    await new Promise((r) => setTimeout(r, 200));  // the child is now in its 30 s loop
    const t0 = Date.now();
    await client.dispose();
    assert.match(String(await settled), /engine disposed/);
    assert.ok(Date.now() - t0 < 5000, `dispose took ${Date.now() - t0} ms`);
    assert.ok(gone(pid));
    assert.ok(warned.some((m) => /did not exit within 300 ms: killing it/.test(m)), warned.join('\n'));
  });

  it('load() of a bad folder while a good model is loaded (issue 13 row 6): rejected, the good model keeps serving', async () => {
    const client = await loaded(tinyDir, enginePath);
    const before = await client.complete({ ...REQ, maxTokens: 8 });
    await assert.rejects(client.load('/nonexistent/model'), /does not exist/);
    const bad = copyFixture();
    try {
      writeFileSync(join(bad.dir, 'model.onnx'), Buffer.from('this is not an ONNX protobuf'.repeat(10)));
      await assert.rejects(client.load(bad.dir));
    } finally { bad.cleanup(); }
    assert.ok(client.isRunning);
    assert.deepStrictEqual(ids(await client.complete({ ...REQ, maxTokens: 8 })), ids(before));
    // restart() reloads the last model that DID load
    assert.strictEqual((await client.restart())?.modelDir, tinyDir);
  });

  it('the engine exits by itself when its host dies (SIGKILL of the host)', async () => {
    const host = spawn(process.execPath, [join(repoRoot, 'out', 'test', 'unit', 'engine', 'telemetry-host.js'), enginePath,
      tinyDir, '60000'], { stdio: 'ignore' });
    try {
      // The engine is the host's child (Linux /proc lists it once forked). An idle engine whose IPC channel closed
      // ends by itself; process.ts's 'disconnect' handler also ends one that is generating at that moment.
      const children = `/proc/${host.pid}/task/${host.pid}/children`;
      let engine = NaN;
      for (let i = 0; i < 200 && !(engine > 0); i++) {
        await new Promise((r) => setTimeout(r, 50));
        engine = Number(readFileSync(children, 'utf8').trim().split(/\s+/)[0]);
      }
      assert.ok(engine > 0, 'engine process started');
      host.kill('SIGKILL');
      let t = 0;
      while (!gone(engine) && !zombie(engine) && t < 10_000) { await new Promise((r) => setTimeout(r, 50)); t += 50; }
      assert.ok(gone(engine) || zombie(engine), `engine ${engine} still running ${t} ms after its host died`);
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('the default model: cancel within a token; restart() and dispose() mid-completion, then the same completion again', async function () {
    if (!existsSync(join(defaultModelDir, 'manifest.json'))) {
      console.log(`    (skipped: ${defaultModelDir} not built; run \`npm run model\` first)`);
      this.skip();
    }
    const client = await loaded(defaultModelDir, enginePath);
    const req: CompleteRequest = { prompt: 'def fibonacci(n):\n    ', maxTokens: 12, reusePrefix: false };
    const before = await client.complete(req);
    // Cancel within a token: the abort goes out at the first token; the engine reads it before its next step.
    const ac = new AbortController();
    const cut = await client.complete({ ...req, maxTokens: 200 }, { signal: ac.signal, onToken: () => ac.abort() });
    assert.strictEqual(cut.finishReason, 'cancelled');
    assert.ok(cut.tokens.length <= 2, `${cut.tokens.length} tokens after an abort at the first`);
    let restarting: Promise<unknown> | undefined;
    await assert.rejects(client.complete({ ...req, maxTokens: 200 }, { onToken: () => { restarting ??= client.restart(); } }),
      /engine restarted/);
    await restarting;
    assert.deepStrictEqual(ids(await client.complete(req)), ids(before));
    const pid = client.pid!;
    let disposing: Promise<void> | undefined;
    await assert.rejects(client.complete({ ...req, maxTokens: 200 }, { onToken: () => { disposing ??= client.dispose(); } }),
      /engine disposed/);
    await disposing;
    assert.ok(gone(pid));
  });
});
