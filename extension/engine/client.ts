// EngineClient: the main-thread handle on the engine worker. Every call is a message (protocol.ts), so the calling
// thread never blocks on onnxruntime. A worker crash rejects what is pending, emits 'crash', and restart() brings
// up a fresh worker with the last loaded model.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompleteRequest, CompleteResult, FromWorker, LoadInfo, LoadOptions, TokenTrace, ToWorker } from './protocol';

export interface EngineClientOptions {
  /** Worker script. Default: engine-worker.js beside this file (the bundle), else worker.js (transpiled tests). */
  workerPath?: string;
}

export interface CompleteHooks {
  signal?: AbortSignal;
  /** Each generated token and the completion text that became safe to show ('' while held back). */
  onToken?: (token: TokenTrace, text: string) => void;
}

interface Pending {
  resolve: (v: never) => void;
  reject: (e: Error) => void;
  onToken?: CompleteHooks['onToken'];
  cleanup?: () => void;
}

/** Events: 'crash' (Error) when the worker dies on its own; 'log' (level, message) for diagnostics. */
export class EngineClient extends EventEmitter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lastLoad: { modelDir: string; options: LoadOptions } | undefined;
  private crashed: Error | undefined;
  private stopping = false;
  private readonly workerPath: string;

  constructor(opts: EngineClientOptions = {}) {
    super();
    const bundled = join(__dirname, 'engine-worker.js');
    this.workerPath = opts.workerPath ?? (existsSync(bundled) ? bundled : join(__dirname, 'worker.js'));
    this.spawn();
  }

  /** Load a model folder in the worker (replacing any loaded one). */
  async load(modelDir: string, options: LoadOptions = {}): Promise<LoadInfo> {
    const info = await this.request<LoadInfo>({ type: 'load', id: this.nextId++, modelDir, options });
    this.lastLoad = { modelDir, options };
    return info;
  }

  /** Generate a completion. Aborting `signal` ends it before its next token; it resolves with reason 'cancelled'. */
  complete(request: CompleteRequest, hooks: CompleteHooks = {}): Promise<CompleteResult> {
    const id = this.nextId++;
    const { signal, onToken } = hooks;
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = () => Atomics.store(cancel, 0, 1);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return this.request<CompleteResult>({ type: 'complete', id, request, cancel }, onToken,
      () => signal?.removeEventListener('abort', onAbort));
  }

  /** A fresh worker (after a crash, or to recover from anything); reloads the last loaded model if there was one. */
  async restart(): Promise<LoadInfo | undefined> {
    await this.stopWorker(new Error('engine restarted'));
    this.crashed = undefined;
    this.spawn();
    return this.lastLoad ? this.load(this.lastLoad.modelDir, this.lastLoad.options) : undefined;
  }

  /** Free the model and stop the worker. The client can be restarted afterwards. */
  async dispose(): Promise<void> {
    if (this.worker && !this.crashed) {
      const done = this.request<void>({ type: 'dispose', id: this.nextId++ });
      await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    await this.stopWorker(new Error('engine disposed'));
  }

  get isRunning(): boolean { return this.worker !== undefined && !this.crashed; }

  private spawn(): void {
    // A small young generation: parsing tokenizer.json (3.5 MB for SmolLM2) otherwise grows it to its ~32 MiB
    // maximum, which V8 keeps committed for the worker's life; with 4 MiB the worker holds ~28 MiB less RSS and
    // tokenizes no slower (measured, docs/BENCHMARKS.md). The worker's big buffers (logits, KV) live outside the heap.
    const w = new Worker(this.workerPath, {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.worker = w;
    let lastError: Error | undefined;
    w.on('message', (msg: FromWorker) => this.onMessage(msg));
    w.on('error', (e) => { lastError = e; });
    w.on('exit', (code) => {
      if (this.worker !== w || this.stopping) return;
      const why = lastError ? `: ${lastError.message}` : '';
      const err = new Error(`engine worker stopped unexpectedly (exit code ${code})${why}; call restart()`);
      this.crashed = err;
      this.worker = undefined;
      this.rejectAll(err);
      if (this.listenerCount('crash') > 0) this.emit('crash', err);
    });
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'log') { this.emit('log', msg.level, msg.message); return; }
    const p = this.pending.get(msg.id);
    if (!p) {
      if (msg.type === 'error') this.emit('log', 'warn', `engine error outside a request: ${msg.message}`);
      return;
    }
    switch (msg.type) {
      case 'token': p.onToken?.(msg.token, msg.text); return;
      case 'loaded': this.settle(msg.id)?.resolve(msg.info as never); return;
      case 'done': this.settle(msg.id)?.resolve(msg.result as never); return;
      case 'disposed': this.settle(msg.id)?.resolve(undefined as never); return;
      case 'error': {
        const err = new Error(msg.message);
        if (msg.stack) err.stack = `${msg.message}\n(in engine worker) ${msg.stack}`;
        this.settle(msg.id)?.reject(err);
      }
    }
  }

  private request<T>(msg: ToWorker, onToken?: Pending['onToken'], cleanup?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.crashed || !this.worker) {
        cleanup?.();
        reject(this.crashed ?? new Error('engine is stopped; call restart()'));
        return;
      }
      this.pending.set(msg.id, { resolve: resolve as (v: never) => void, reject, onToken, cleanup });
      this.post(msg);
    });
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    p?.cleanup?.();
    return p;
  }

  private post(msg: ToWorker): void { this.worker?.postMessage(msg); }

  private rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }

  private async stopWorker(reason: Error): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.rejectAll(reason);
    if (w) {
      this.stopping = true;
      try { await w.terminate(); } finally { this.stopping = false; }
    }
  }
}
