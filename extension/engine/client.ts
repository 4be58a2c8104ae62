// EngineClient: the extension host's handle on the engine, which runs in a child process of its own (process.ts), so
// that a native crash in onnxruntime ends the engine and never the editor. Every call is a message (protocol.ts);
// the calling thread never blocks on onnxruntime. The child's death rejects what is pending and emits 'crash';
// restart() brings up a fresh process with the last loaded model.
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clipForTokens } from './clip';
import { OutputLines } from './outputLines';
import type { CompleteRequest, CompleteResult, DoneResult, FromEngine, LoadInfo, LoadOptions, TokenTrace, ToEngine } from './protocol';

export interface EngineClientOptions {
  /** Engine entry script. Default: engine-process.js beside this file (the bundle), else process.js (transpiled tests). */
  enginePath?: string;
  /** Milliseconds restart()/dispose() wait for the child to free its model and exit before SIGKILL (default 1500). */
  stopTimeoutMs?: number;
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
  /** A completion's tokens as they streamed in: the `done` message does not carry them again. */
  tokens?: TokenTrace[];
  /** Characters cut from the start of the prefix before sending (added back to result.window.start). */
  prefixCut?: number;
  cleanup?: () => void;
}

/**
 * Node flags of the engine process. A small young generation: parsing tokenizer.json (3.5 MB for SmolLM2) otherwise
 * grows it to its maximum, which V8 keeps committed for the process's life. The worker thread this process replaced
 * had `maxYoungGenerationSizeMb: 4`, i.e. semi-spaces of 4/3 MiB; 1 MiB is the nearest whole value of the flag
 * (RSS and tokenizer speed measured in docs/ENGINE.md). The engine's big buffers (logits, KV) live outside the heap.
 */
export const ENGINE_EXEC_ARGV = ['--max-semi-space-size=1'];

/** Events: 'crash' (Error) when the engine process dies on its own; 'log' (level, message) for diagnostics. */
export class EngineClient extends EventEmitter {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lastLoad: { modelDir: string; options: LoadOptions } | undefined;
  /** The loaded model's limits: texts are cut to what can reach it before they cross the process boundary. */
  private info: LoadInfo | undefined;
  private crashed: Error | undefined;
  private readonly enginePath: string;
  private readonly stopTimeoutMs: number;

  constructor(opts: EngineClientOptions = {}) {
    super();
    const bundled = join(__dirname, 'engine-process.js');
    this.enginePath = opts.enginePath ?? (existsSync(bundled) ? bundled : join(__dirname, 'process.js'));
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 1500;
    this.spawn();
  }

  /** Load a model folder. It replaces the loaded model only once loaded: if it fails, the old one keeps serving. */
  async load(modelDir: string, options: LoadOptions = {}): Promise<LoadInfo> {
    const info = await this.request<LoadInfo>({ type: 'load', id: this.nextId++, modelDir, options });
    this.lastLoad = { modelDir, options };
    this.info = info;
    return info;
  }

  /**
   * Generate a completion. Aborting `signal` ends it before its next forward step; it resolves with reason
   * 'cancelled' and the tokens so far. restart()/dispose() while it runs reject it with "engine restarted" /
   * "engine disposed" (a partial result must not be shown as a suggestion).
   */
  complete(request: CompleteRequest, hooks: CompleteHooks = {}): Promise<CompleteResult> {
    const id = this.nextId++;
    const { signal, onToken } = hooks;
    // Aborted before it was sent: it never runs. (Sent with a cancel right behind it, the engine could see the two
    // messages in separate reads and start the request before the cancel arrives.)
    if (signal?.aborted) {
      if (!this.isRunning) return Promise.reject(this.crashed ?? new Error('engine is stopped; call restart()'));
      return Promise.resolve({ text: '', tokens: [], finishReason: 'cancelled', threshold: request.threshold ?? NaN, timings: {
        reusedTokens: 0, prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, decodeTokPerS: NaN, totalMs: 0,
        draftedTokens: 0, acceptedTokens: 0 } });
    }
    const onAbort = () => { if (this.pending.has(id)) this.post({ type: 'cancel', id }); };
    const { request: sent, prefixCut } = this.clip(request);
    const result = this.request<CompleteResult>({ type: 'complete', id, request: sent }, onToken,
      () => signal?.removeEventListener('abort', onAbort));
    const p = this.pending.get(id);
    if (p) { p.tokens = []; p.prefixCut = prefixCut; }
    signal?.addEventListener('abort', onAbort, { once: true });
    return result;
  }

  /**
   * The request as it is sent: texts cut to what can reach the model (the engine would cut them anyway, after paying
   * for copying them across). A prefix with a budget keeps budget × maxTokenChars characters, the most that many
   * tokens can cover; the engine picks the prompt's start inside that.
   */
  private clip(request: CompleteRequest): { request: CompleteRequest; prefixCut: number } {
    const info = this.info;
    if (!info) return { request, prefixCut: 0 };
    const prefixMax = request.budget !== undefined ? Math.min(info.maxPromptChars, request.budget * info.maxTokenChars) : info.maxPromptChars;
    const out = { ...request };
    if (out.prompt !== undefined) out.prompt = clipForTokens(out.prompt, info.maxPromptChars, 'end');
    if (out.prefix !== undefined) out.prefix = clipForTokens(out.prefix, prefixMax, 'end');
    if (out.suffix !== undefined) out.suffix = clipForTokens(out.suffix, info.maxPromptChars, 'start');
    return { request: out, prefixCut: (request.prefix?.length ?? 0) - (out.prefix?.length ?? 0) };
  }

  /**
   * A fresh engine process (after a crash, or to recover from anything): the old one, if alive, is asked to free its
   * model and exit, and is killed after a short deadline; what it had pending rejects with "engine restarted".
   * Reloads the last loaded model unless `reload` is false.
   */
  async restart(reload = true): Promise<LoadInfo | undefined> {
    await this.stop(new Error('engine restarted: the request was cancelled'));
    this.crashed = undefined;
    this.spawn();
    return reload && this.lastLoad ? this.load(this.lastLoad.modelDir, this.lastLoad.options) : undefined;
  }

  /** Free the model and stop the engine process (SIGKILL after the deadline). The client can be restarted afterwards. */
  async dispose(): Promise<void> {
    await this.stop(new Error('engine disposed: the request was cancelled'));
  }

  get isRunning(): boolean { return this.child !== undefined && !this.crashed; }

  /** Process id of the engine (undefined while stopped). */
  get pid(): number | undefined { return this.isRunning ? this.child?.pid : undefined; }

  private spawn(): void {
    const child = fork(this.enginePath, [], {
      serialization: 'advanced',  // typed arrays (traces) cross as typed arrays
      // The child's real environment: onnxruntime's native code reads it (a worker thread only had a JS copy, so
      // telemetry stayed on). VS Code's execPath is Electron: ELECTRON_RUN_AS_NODE makes it a plain Node.
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1' },
      execArgv: ENGINE_EXEC_ARGV,  // not the host's own flags (an inspector port would clash)
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const stderr = new OutputLines((line) => this.emit('log', 'warn', `engine: ${line}`));
    const stdout = new OutputLines((line) => this.emit('log', 'info', `engine: ${line}`));
    stderr.attach(child.stderr);
    stdout.attach(child.stdout);
    child.on('message', (msg: FromEngine) => { if (this.child === child) this.onMessage(msg); });
    let spawnError: Error | undefined;
    child.on('error', (e) => { spawnError ??= e; });  // failed to start (or to send: the exit below says more)
    // 'close' comes after the streams ended, so the last stderr lines (e.g. "terminate called ...") are in tail().
    child.on('close', (code, signal) => {
      if (this.child !== child) return;  // stopped on purpose by stop()
      const how = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
      const detail = spawnError?.message ?? stderr.tail();
      const err = new Error(`engine process (pid ${child.pid ?? '?'}) ${how}${detail ? `: ${detail}` : ''}`);
      this.crashed = err;
      this.child = undefined;
      this.rejectAll(err);
      if (this.listenerCount('crash') > 0) this.emit('crash', err);
    });
  }

  private onMessage(msg: FromEngine): void {
    if (msg.type === 'log') { this.emit('log', msg.level, msg.message); return; }
    const p = this.pending.get(msg.id);
    if (!p) {
      if (msg.type === 'error') this.emit('log', 'warn', `engine error outside a request: ${msg.message}`);
      return;
    }
    switch (msg.type) {
      case 'token': p.tokens?.push(msg.token); p.onToken?.(msg.token, msg.text); return;
      case 'loaded': this.settle(msg.id)?.resolve(msg.info as never); return;
      case 'done': this.settle(msg.id)?.resolve(this.assemble(msg.result, p) as never); return;
      case 'error': {
        const err = new Error(msg.message);
        if (msg.stack) err.stack = `${msg.message}\n(in the engine process) ${msg.stack}`;
        this.settle(msg.id)?.reject(err);
      }
    }
  }

  /** The full result: the streamed tokens put back, the last one's late text appended, the window in the caller's prefix. */
  private assemble(done: DoneResult, p: Pending): CompleteResult {
    const { tail, tokenCount, ...rest } = done;
    const tokens = p.tokens ?? [];
    if (tokens.length !== tokenCount) {
      this.emit('log', 'warn', `engine result: ${tokenCount} tokens generated, ${tokens.length} received`);
    }
    if (tail && tokens.length > 0) tokens[tokens.length - 1].text += tail;
    const window = rest.window && p.prefixCut ? { ...rest.window, start: rest.window.start + p.prefixCut } : rest.window;
    return { ...rest, window, tokens };
  }

  private request<T>(msg: ToEngine, onToken?: Pending['onToken'], cleanup?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.crashed || !this.child) {
        cleanup?.();
        reject(this.crashed ? new Error(`${this.crashed.message}; call restart()`) : new Error('engine is stopped; call restart()'));
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

  private post(msg: ToEngine): void {
    const c = this.child;
    // A closed channel means the child is dying: its 'close' rejects what is pending.
    if (c?.connected) c.send(msg, undefined, undefined, () => undefined);
  }

  private rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }

  /** Settle what is pending with `reason`, then a graceful dispose with a deadline, then SIGKILL. */
  private async stop(reason: Error): Promise<void> {
    const c = this.child;
    this.child = undefined;
    this.rejectAll(reason);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    if (c.connected) c.send({ type: 'dispose', id: this.nextId++ } satisfies ToEngine, undefined, undefined, () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), this.stopTimeoutMs); });
    if (await Promise.race([exited.then(() => false), late])) {
      this.emit('log', 'warn', `engine process ${c.pid} did not exit within ${this.stopTimeoutMs} ms: killing it`);
      c.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }
}
