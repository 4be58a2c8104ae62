// The one test-only view of the running extension. It exists only when VS Code runs the extension's tests
// (ExtensionMode.Test, as test/e2e does) or SKIPGPT_TEST_OBSERVER=1; production components get it as an optional
// reference, report events to it and keep no fields for tests. The real-VS-Code suite reads it from activate()'s
// return value: the event logs below, plus read-only views of the live parts and the few actions it needs.
import * as vscode from 'vscode';
import type { CompleteOptions } from '../completion/engineApi';
import type { PipelineOutcome, PrimeOutcome } from '../completion/pipeline';
import type { CompleteRequest, CompleteResult, LoadInfo } from '../engine/protocol';
import type { BenchmarkResult } from '../routing/benchmark';
import type { TraceRecord } from '../routing/export';

export interface InlineRecord { version: number; reason?: string; shown: boolean; outcome: PipelineOutcome }

/** What the observer can read and do once activate() has wired the parts. */
export interface ObservedParts {
  state(): string;
  info(): LoadInfo | undefined;
  modelDir(): string | undefined;
  pid(): number | undefined;
  lastTrace(): TraceRecord | undefined;
  status(): { text: string; tooltip: string };
  complete(req: CompleteRequest, opts?: CompleteOptions): Promise<CompleteResult>;
  ensureLoaded(): Promise<boolean>;
  resetRestarts(): void;
  rerun(threshold: number): Promise<void>;
  onDidChange: vscode.Event<void>;
}

export class TestObserver {
  /** Every message shown to the user, in order. */
  readonly messages: string[] = [];
  /** Inline provider calls, and what each one that reached the pipeline gave. */
  inlineCalls = 0;
  readonly inline: InlineRecord[] = [];
  readonly primes: PrimeOutcome[] = [];
  /** Foreground generation starts (true) and ends (false), as the status bar sees them. */
  readonly generating: boolean[] = [];
  /** Tokens of each finished panel run: routed, and dense (0 when not run). */
  readonly panelRuns: { routed: number; dense: number }[] = [];
  benchmark?: { result: BenchmarkResult; report: string };
  private parts?: ObservedParts;

  attach(parts: ObservedParts): void { this.parts = parts; }

  get host(): ObservedParts {
    if (!this.parts) throw new Error('test observer: not attached yet');
    return this.parts;
  }

  get lastInline(): PipelineOutcome | undefined { return this.inline[this.inline.length - 1]?.outcome; }
}

/** The observer, only when the extension runs under its tests. */
export function createTestObserver(mode: vscode.ExtensionMode): TestObserver | undefined {
  return mode === vscode.ExtensionMode.Test || process.env.SKIPGPT_TEST_OBSERVER === '1' ? new TestObserver() : undefined;
}
