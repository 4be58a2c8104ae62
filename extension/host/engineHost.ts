// The engine's life in the extension host: which model folder (model/folder.ts; existence only, the engine reads and
// checks the files), loading it in the engine process with progress, the state the status bar shows, and recovery:
// after a crash the engine restarts by itself a bounded number of times (RestartBudget), then the user decides.
// What the host knows about the model is the engine's LoadInfo; every failure becomes a message (Notifier).
import * as vscode from 'vscode';
import { EngineClient, type LoadInfo } from '../engine';
import type { SkipgptSettings } from '../completion/settings';
import { chooseModelFolder } from '../model/folder';
import type { EngineState } from '../status/text';
import { folderInputs } from './config';
import { CHOOSE_FOLDER, type Notifier, RESTART_ENGINE } from './notifier';
import { RestartBudget } from './restartBudget';

/** The host's engine states; "generating" is the EngineGate's business. */
export type HostState = Exclude<EngineState, 'generating'>;

export class EngineHost implements vscode.Disposable {
  private current: HostState = 'no-model';
  private problem?: string;
  private loaded?: LoadInfo;
  private engine?: EngineClient;
  private loading?: Promise<boolean>;
  /** The load settings of the last failed load: not retried on every keystroke, only when they change or on request. */
  private failedKey?: string;
  /** Automatic restarts after crashes: at most 3 a minute, then the user decides (RESTART_ENGINE). */
  readonly restarts = new RestartBudget(3, 60_000);
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private disposed = false;

  /** storageDir: the extension's global storage, where `auto` caches its provider probes per model and machine. */
  constructor(private readonly extensionPath: string, private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => SkipgptSettings, private readonly notifier: Notifier, private readonly storageDir?: string) {}

  get state(): HostState { return this.current; }
  get ready(): boolean { return this.current === 'ready'; }
  get error(): string | undefined { return this.problem; }
  /** The loaded model as the engine describes it (undefined until a load succeeded). */
  get info(): LoadInfo | undefined { return this.loaded; }
  get client(): EngineClient | undefined { return this.engine; }
  get pid(): number | undefined { return this.engine?.pid; }

  /** Loads the model unless it is loaded or loading; resolves true when ready. */
  ensureLoaded(interactive = false): Promise<boolean> {
    if (this.current === 'ready') return Promise.resolve(true);
    if (this.loading) return this.loading;
    // A failed load is not retried (nor its message repeated) on every keystroke: only when asked explicitly or after
    // the model settings change (both call load()).
    if (!interactive && this.failedKey !== undefined && this.failedKey === this.loadKey()) return Promise.resolve(false);
    return this.load(interactive);
  }

  private loadKey(): string {
    const s = this.settings();
    return JSON.stringify([chooseModelFolder(folderInputs(this.extensionPath)).dir, s.executionProvider, s.threads]);
  }

  /** (Re)loads from the configured folder, e.g. after the folder, provider or thread settings changed. */
  load(interactive = false): Promise<boolean> {
    return this.track(this.doLoad(interactive));
  }

  /** The "Restart Engine" command: a fresh engine process (whatever state the old one is in), then the model. */
  async restartEngine(): Promise<boolean> {
    await this.loading;
    await this.engine?.dispose();  // a completion still running rejects as "engine disposed"
    return this.load(true);
  }

  private track(run: Promise<boolean>): Promise<boolean> {
    const p = run.finally(() => { if (this.loading === p) this.loading = undefined; });
    this.loading = p;
    return p;
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
      void this.notifier.notify('warn', choice.problem ?? 'No model folder.', CHOOSE_FOLDER);
      return false;
    }
    const dir = choice.dir;
    this.setState('loading');
    const location = interactive ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
    try {
      const info = await vscode.window.withProgress({ location, title: `SkipGPT: loading model from ${dir}` }, async (progress) => {
        progress.report({ message: 'engine process: manifest, tokenizer, inference session' });
        this.engine ??= this.newClient();
        if (!this.engine.isRunning) await this.engine.restart(false);  // a fresh process; the load below follows
        return this.engine.load(dir, { executionProvider: s.executionProvider, threads: s.threads || undefined,
          probeCacheDir: this.storageDir });
      });
      this.loaded = info;
      for (const p of info.passedOver) this.log.info(`execution provider ${p.ep} passed over: ${p.reason}`);
      this.log.info(`execution provider ${info.executionProvider}: ${info.providerReason}`);
      this.log.info(`loaded ${info.name} from ${dir} (${choice.source} setting) on ${info.executionProvider}, `
        + `${info.layers} layers, ${info.threads} threads, ${info.loadMs.toFixed(0)} ms`);
      this.setState('ready');
      return true;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.log.error(`loading ${dir} failed: ${msg}`);
      this.failedKey = this.loadKey();
      this.setState('error', `Could not load the model in ${dir}: ${msg}`);
      void this.notifier.notify('error', `SkipGPT could not load the model in ${dir}: ${msg}`, CHOOSE_FOLDER);
      return false;
    }
  }

  private newClient(): EngineClient {
    const c = new EngineClient();
    c.on('log', (level: string, message: string) => (level === 'warn' ? this.log.warn(message) : this.log.info(message)));
    c.on('crash', (err: Error) => { void this.onCrash(err); });
    return c;
  }

  /** Restart policy: restart by itself while the budget allows, else leave it to the user ("Restart Engine"). */
  private onCrash(err: Error): Promise<boolean> {
    this.log.error(`engine crashed: ${err.message}`);
    // A load or restart in flight fails with this same error and reports it (no second message, no restart loop
    // when a model crashes the engine at every load).
    if (this.loading) return this.loading;
    if (!this.restarts.take()) {
      this.failedKey = this.loadKey();  // typing on does not restart it either
      const n = this.restarts.recent;
      this.setState('error', `The engine stopped ${n} times within a minute: ${err.message}`);
      void this.notifier.notify('error', `SkipGPT engine stopped ${n} times within a minute (last: ${err.message}). `
        + 'It is not restarted automatically any more; the editor is not affected.', RESTART_ENGINE);
      return Promise.resolve(false);
    }
    this.setState('error', `The engine stopped: ${err.message}`);
    void this.notifier.notify('error', `SkipGPT engine stopped (${err.message}). Restarting it; the editor is not affected.`);
    // Requests arriving meanwhile wait for this restart instead of starting a second load.
    return this.track((async () => {
      try {
        const info = await this.engine?.restart();
        if (!info) return false;
        this.loaded = info;
        this.setState('ready');
        this.log.info(`engine restarted after a crash (pid ${this.engine?.pid})`);
        return true;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.failedKey = this.loadKey();
        this.setState('error', `The engine could not restart: ${msg}`);
        void this.notifier.notify('error', `SkipGPT engine could not restart: ${msg}`, RESTART_ENGINE);
        return false;
      }
    })());
  }

  private setState(state: HostState, error?: string): void {
    this.current = state;
    this.problem = error;
    if (!this.disposed) this.changed.fire();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.engine;
    this.engine = undefined;
    this.changed.dispose();
    await c?.dispose();
  }
}
