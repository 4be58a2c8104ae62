// Who gets the engine when: every completion of the extension goes through here. A foreground request (a suggestion,
// the panel, the inspector) first aborts the background runs (cache priming stops between prefill chunks), counts as
// "generating" while it runs, and becomes the recorded trace when asked; a background run does neither.
import * as vscode from 'vscode';
import type { CompleteOptions, CompletionEngine } from '../completion/engineApi';
import type { EngineClient } from '../engine';
import type { CompleteRequest, CompleteResult } from '../engine/protocol';
import type { EngineHost } from './engineHost';
import type { TestObserver } from './testObserver';
import type { TraceRecorder } from './traceRecorder';

export class EngineGate implements CompletionEngine, vscode.Disposable {
  private active = 0;
  private readonly backgroundRuns = new Set<AbortController>();
  private readonly sub: vscode.Disposable;
  private readonly changed = new vscode.EventEmitter<boolean>();
  /** Foreground generation started (true) or ended (false). */
  readonly onDidChangeBusy = this.changed.event;

  constructor(private readonly host: EngineHost, private readonly traces: TraceRecorder, private readonly observer?: TestObserver) {
    // A crash rejects what runs; nothing is generating any more.
    this.sub = host.onDidChange(() => { if (!host.ready && this.active > 0) { this.active = 0; this.setBusy(false); } });
  }

  get busy(): boolean { return this.active > 0; }

  async complete(req: CompleteRequest, opts: CompleteOptions = {}): Promise<CompleteResult> {
    const client = this.host.client;
    if (!client || !this.host.ready) throw new Error(this.host.error ?? 'model not loaded');
    if (opts.background) return this.inBackground(client, req, opts.signal);
    for (const b of this.backgroundRuns) b.abort();  // the user's request goes first
    if (this.active++ === 0) this.setBusy(true);
    const t0 = Date.now();
    try {
      const r = await client.complete(req, { signal: opts.signal, onToken: opts.onToken });
      const record = typeof opts.record === 'function' ? opts.record() : opts.record !== false;
      if (record && r.tokens.length > 0) this.traces.record(req, r, Date.now() - t0, { name: this.host.info?.name, dims: this.host.info?.dims });
      return r;
    } finally {
      if (this.active > 0 && --this.active === 0) this.setBusy(false);
    }
  }

  /** A background run: aborted by `outer` or by the next foreground request. */
  private async inBackground(client: EngineClient, req: CompleteRequest, outer?: AbortSignal): Promise<CompleteResult> {
    const ac = new AbortController();
    const onOuter = () => ac.abort();
    if (outer?.aborted) ac.abort(); else outer?.addEventListener('abort', onOuter, { once: true });
    this.backgroundRuns.add(ac);
    try {
      return await client.complete(req, { signal: ac.signal });
    } finally {
      this.backgroundRuns.delete(ac);
      outer?.removeEventListener('abort', onOuter);
    }
  }

  private setBusy(busy: boolean): void {
    this.observer?.generating.push(busy);
    this.changed.fire(busy);
  }

  dispose(): void { this.sub.dispose(); this.changed.dispose(); }
}
