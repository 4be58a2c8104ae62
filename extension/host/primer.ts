// Background cache priming: when an editor that gets inline suggestions comes into focus (or the model finishes
// loading while one is focused), and the user pauses, the engine reads the prompt at the cursor so the first
// suggestion there reuses it (CompletionPipeline.prime). A newer focus or any suggestion request cancels it.
import * as vscode from 'vscode';
import type { CompletionPipeline, PrimeOutcome } from '../completion/pipeline';
import type { SkipgptSettings } from '../completion/settings';
import type { EngineHost } from './engineHost';
import { editorRequest } from './inline';
import type { TestObserver } from './testObserver';

/** Quiet time after a focus change before priming: switching through several files primes only the last. */
export const PRIME_DELAY_MS = 400;

export class CachePrimer implements vscode.Disposable {
  private timer?: ReturnType<typeof setTimeout>;
  private running?: AbortController;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly pipeline: CompletionPipeline, private readonly host: EngineHost,
    private readonly settings: () => SkipgptSettings, private readonly log: vscode.LogOutputChannel,
    private readonly observer?: TestObserver) {
    let was = host.state;
    this.subs.push(
      vscode.window.onDidChangeActiveTextEditor((e) => this.schedule(e)),
      // A model finished loading with a file already open (startup, model switch, restart): prime that file.
      // Suggestions do not change the host's state (the suggestion itself leaves its prompt in the cache).
      host.onDidChange(() => {
        const now = host.state;
        if (now === 'ready' && was !== 'ready') this.schedule(vscode.window.activeTextEditor);
        was = now;
      }),
    );
  }

  /** Prime `editor` after PRIME_DELAY_MS unless something newer happens; only files that get inline suggestions. */
  schedule(editor: vscode.TextEditor | undefined): void {
    this.cancel();
    const s = this.settings();
    if (!editor || !s.inlineEnabled || !s.languages.includes(editor.document.languageId)) return;
    if (!['file', 'untitled'].includes(editor.document.uri.scheme)) return;
    this.timer = setTimeout(() => { this.timer = undefined; void this.run(editor); }, PRIME_DELAY_MS);
  }

  private async run(editor: vscode.TextEditor): Promise<void> {
    if (this.host.state !== 'ready' || vscode.window.activeTextEditor !== editor) return;
    const ac = new AbortController();
    this.running = ac;
    const t0 = Date.now();
    try {
      const outcome = await this.pipeline.prime(editorRequest(editor.document, editor.selection.active), ac.signal);
      this.observer?.primes.push(outcome);
      this.log.debug(`cache priming for ${vscode.workspace.asRelativePath(editor.document.uri)}: ${outcome} in ${Date.now() - t0} ms`);
    } finally {
      if (this.running === ac) this.running = undefined;
    }
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running?.abort();
    this.running = undefined;
  }

  dispose(): void {
    this.cancel();
    for (const s of this.subs) s.dispose();
  }
}
