// Owns the engine for the extension host: picks the model folder, loads it in the engine's own process with
// progress, tracks the state the status bar shows, records the latest trace for the webviews, and turns every engine
// failure (no folder, corrupt model, native crash of the engine process) into a clear message while the host stays
// up; after a crash it restarts the engine by itself, a bounded number of times (RestartBudget).
import * as vscode from 'vscode';
import { EngineClient } from '../engine';
import { readModelFolder } from '../engine/manifest';
import type { CompleteOptions, CompleteRequest, CompleteResult, CompletionEngine, ModelShape } from '../completion/engineApi';
import type { SkipgptSettings } from '../completion/settings';
import { chooseModelFolder } from '../model/folder';
import { SessionStats, summarize } from '../routing/stats';
import type { TraceRecord } from '../routing/export';
import type { EngineState, LastRun } from '../status/text';
import { folderInputs } from './config';
import { RestartBudget } from './restartBudget';

export const CHOOSE_FOLDER = 'Choose Model Folder';
export const RESTART_ENGINE = 'Restart Engine';

export class EngineHost implements CompletionEngine, vscode.Disposable {
  state: EngineState = 'no-model';
  error?: string;
  modelDir?: string;
  modelName?: string;
  executionProvider?: string;
  /** Why that provider (the setting, or `auto`'s measured verdict): the status bar tooltip shows it. */
  providerReason?: string;
  shape?: ModelShape;
  specialTokens: string[] = [];
  last?: LastRun;
  lastTrace?: TraceRecord;
  readonly session = new SessionStats();
  /** Every message shown to the user, in order (the e2e suite checks them). */
  readonly shown: string[] = [];
  client?: EngineClient;
  private loading?: Promise<boolean>;
  private active = 0;
  /** Background runs (cache priming) in flight: any foreground request aborts them. */
  private readonly backgroundRuns = new Set<AbortController>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly traced = new vscode.EventEmitter<TraceRecord>();
  readonly onDidTrace = this.traced.event;
  /** Automatic restarts after crashes: at most 3 a minute, then the user decides (RESTART_ENGINE). */
  readonly restarts = new RestartBudget(3, 60_000);

  /** storageDir: the extension's global storage, where `auto` caches its provider probes per model and machine. */
  constructor(private readonly extensionPath: string, private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => SkipgptSettings, private readonly storageDir?: string) {}

  /** Loads the model unless it is loaded or loading; resolves true when ready. */
  ensureLoaded(interactive = false): Promise<boolean> {
    if (this.state === 'ready' || this.state === 'generating') return Promise.resolve(true);
    if (this.loading) return this.loading;
    // A failed load is not retried (nor its message repeated) on every keystroke: only when asked explicitly or after
    // the model settings change (both call load()).
    if (!interactive && this.failedKey !== undefined && this.failedKey === this.loadKey()) return Promise.resolve(false);
    return this.load(interactive);
  }

  private failedKey?: string;
  private loadKey(): string {
    const s = this.settings();
    return JSON.stringify([chooseModelFolder(folderInputs(this.extensionPath)).dir, s.executionProvider, s.threads]);
  }

  /** (Re)loads from the configured folder, e.g. after the folder, provider or thread settings changed. */
  load(interactive = false): Promise<boolean> {
    const run = this.doLoad(interactive).finally(() => { if (this.loading === run) this.loading = undefined; });
    this.loading = run;
    return run;
  }

  /** The "Restart Engine" command: a fresh engine process (whatever state the old one is in), then the model. */
  async restartEngine(): Promise<boolean> {
    await this.loading;
    await this.client?.dispose();  // a completion still running rejects as "engine disposed"
    return this.load(true);
  }

  private async doLoad(interactive: boolean): Promise<boolean> {
    const s = this.settings();
    const choice = chooseModelFolder(folderInputs(this.extensionPath));
    if (choice.ignoredWorkspaceValue) {
      this.log.warn(`workspace is not trusted: ignoring its skipgpt.modelFolder "${choice.ignoredWorkspaceValue}" (user settings only)`);
    }
    this.failedKey = undefined;
    if (interactive) this.restarts.reset();  // the user asked (Restart Engine, a changed setting): count afresh
    if (!choice.dir || choice.problem) {
      this.failedKey = this.loadKey();
      this.setState('no-model', choice.problem);
      this.log.warn(choice.problem ?? 'no model folder');
      void this.notify('warn', choice.problem ?? 'No model folder.', CHOOSE_FOLDER);
      return false;
    }
    const dir = choice.dir;
    this.setState('loading');
    const location = interactive ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
    try {
      await vscode.window.withProgress({ location, title: `SkipGPT: loading model from ${dir}` }, async (progress) => {
        progress.report({ message: 'reading manifest' });
        const folder = readModelFolder(dir);     // strict manifest check before the engine spends seconds on ONNX
        progress.report({ message: 'creating the inference session (engine process)' });
        this.client ??= this.newClient();
        if (!this.client.isRunning) await this.client.restart(false);  // a fresh process; the load below follows
        const t0 = Date.now();
        const info = await this.client.load(dir, { executionProvider: s.executionProvider, threads: s.threads || undefined,
          probeCacheDir: this.storageDir });
        const m = folder.manifest;
        this.modelDir = dir;
        this.modelName = m.name;
        this.executionProvider = info.executionProvider;
        this.providerReason = info.providerReason;
        this.shape = { layers: m.dims.layers, hidden: m.dims.hidden, intermediate: m.dims.intermediate, heads: m.dims.heads,
          kvHeads: m.dims.kv_heads, headDim: m.dims.head_dim, vocab: m.dims.vocab, name: m.name };
        const st = m.special_tokens;
        this.specialTokens = [...Object.keys(st.code), ...(st.fim ? Object.keys(st.fim) : []), st.eos, ...(st.bos ? [st.bos] : [])];
        for (const p of info.passedOver) this.log.info(`execution provider ${p.ep} passed over: ${p.reason}`);
        this.log.info(`execution provider ${info.executionProvider}: ${info.providerReason}`);
        this.log.info(`loaded ${m.name} from ${dir} (${choice.source} setting) on ${info.executionProvider}, `
          + `${info.layers} layers, ${info.threads} threads, ${Date.now() - t0} ms`);
      });
      this.setState('ready');
      return true;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.log.error(`loading ${dir} failed: ${msg}`);
      this.failedKey = this.loadKey();
      this.setState('error', `Could not load the model in ${dir}: ${msg}`);
      void this.notify('error', `SkipGPT could not load the model in ${dir}: ${msg}`, CHOOSE_FOLDER);
      return false;
    }
  }

  private newClient(): EngineClient {
    const c = new EngineClient();
    c.on('log', (level: string, message: string) => (level === 'warn' ? this.log.warn(message) : this.log.info(message)));
    c.on('crash', (err: Error) => { void this.onCrash(err); });
    return c;
  }

  private onCrash(err: Error): Promise<boolean> {
    this.log.error(`engine crashed: ${err.message}`);
    this.active = 0;
    // A load or restart in flight fails with this same error and reports it (no second message, no restart loop
    // when a model crashes the engine at every load).
    if (this.loading) return this.loading;
    if (!this.restarts.take()) {
      this.failedKey = this.loadKey();  // typing on does not restart it either
      const n = this.restarts.recent;
      this.setState('error', `The engine stopped ${n} times within a minute: ${err.message}`);
      void this.notify('error', `SkipGPT engine stopped ${n} times within a minute (last: ${err.message}). `
        + 'It is not restarted automatically any more; the editor is not affected.', RESTART_ENGINE);
      return Promise.resolve(false);
    }
    this.setState('error', `The engine stopped: ${err.message}`);
    void this.notify('error', `SkipGPT engine stopped (${err.message}). Restarting it; the editor is not affected.`);
    // Requests arriving meanwhile wait for this restart instead of starting a second load.
    const run = (async () => {
      try {
        const info = await this.client?.restart();
        if (!info) return false;
        this.setState('ready');
        this.log.info(`engine restarted after a crash (pid ${this.client?.pid})`);
        return true;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.failedKey = this.loadKey();
        this.setState('error', `The engine could not restart: ${msg}`);
        void this.notify('error', `SkipGPT engine could not restart: ${msg}`, RESTART_ENGINE);
        return false;
      }
    })().finally(() => { if (this.loading === run) this.loading = undefined; });
    this.loading = run;
    return run;
  }

  /** A completion through the engine; `record` (default true) makes it the trace the webviews show; a `background`
   * one (cache priming) leaves the state and the trace alone and is aborted by the next foreground request. */
  async complete(req: CompleteRequest, opts: CompleteOptions = {}): Promise<CompleteResult> {
    if (!this.client || (this.state !== 'ready' && this.state !== 'generating')) throw new Error(this.error ?? 'model not loaded');
    if (opts.background) return this.completeInBackground(this.client, req, opts.signal);
    for (const b of this.backgroundRuns) b.abort();  // the user's request goes first: a prime stops between chunks
    this.active += 1;
    this.setState('generating');
    const t0 = Date.now();
    try {
      const r = await this.client.complete(req, { signal: opts.signal, onToken: opts.onToken });
      const record = typeof opts.record === 'function' ? opts.record() : opts.record !== false;
      if (record && r.tokens.length > 0) this.record(req, r, Date.now() - t0);
      return r;
    } finally {
      this.active = Math.max(0, this.active - 1);
      if (this.active === 0 && this.state === 'generating') this.setState('ready');
    }
  }

  private async completeInBackground(client: EngineClient, req: CompleteRequest, signal?: AbortSignal): Promise<CompleteResult> {
    const ac = new AbortController();
    const onOuter = () => ac.abort();
    if (signal?.aborted) ac.abort(); else signal?.addEventListener('abort', onOuter, { once: true });
    this.backgroundRuns.add(ac);
    try {
      return await client.complete(req, { signal: ac.signal });
    } finally {
      this.backgroundRuns.delete(ac);
      signal?.removeEventListener('abort', onOuter);
    }
  }

  private record(req: CompleteRequest, r: CompleteResult, wallMs: number): void {
    const sum = summarize(r.tokens, this.shape);
    const decode = r.timings && r.timings.decodeMs > 0 ? (r.timings.decodeTokens * 1000) / r.timings.decodeMs : sum.tokensPerSec;
    this.last = { latencyMs: wallMs, tokensPerSec: decode, skipRate: (sum.attnSkip + sum.mlpSkip) / 2, tokens: r.tokens.length };
    this.session.add(r.tokens);
    this.lastTrace = { prompt: req.prompt ?? req.prefix ?? '', threshold: req.threshold, model: this.modelName, tokens: r.tokens };
    this.traced.fire(this.lastTrace);
    this.changed.fire();
  }

  private setState(state: EngineState, error?: string): void {
    this.state = state;
    this.error = error;
    this.changed.fire();
  }

  async notify(level: 'warn' | 'error' | 'info', message: string, ...actions: string[]): Promise<string | undefined> {
    this.shown.push(message);
    const show = level === 'error' ? vscode.window.showErrorMessage : level === 'warn' ? vscode.window.showWarningMessage
      : vscode.window.showInformationMessage;
    const pick = await show(message, ...actions);
    if (pick === CHOOSE_FOLDER) await vscode.commands.executeCommand('skipgpt.chooseModelFolder');
    if (pick === RESTART_ENGINE) await vscode.commands.executeCommand('skipgpt.restartEngine');
    return pick;
  }

  private disposed = false;

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.client;
    this.client = undefined;
    this.changed.dispose();
    this.traced.dispose();
    await c?.dispose();
  }
}
