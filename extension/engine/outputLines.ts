// Bounded line reader for the engine process's stdout/stderr: onnxruntime's native code writes there directly. Each
// line goes to a callback (the client's 'log' event), cut to a maximum length and limited in rate so a chatty or
// looping native library cannot flood the host's output channel; the last lines are kept for a crash message.
import type { Readable } from 'node:stream';

export interface OutputLinesOptions {
  /** Characters kept of one line (default 1000). */
  maxLineChars?: number;
  /** Lines passed on per window (default 100); the rest are counted and reported once the window ends. */
  maxLinesPerWindow?: number;
  windowMs?: number;
  /** Lines remembered for tail() (default 3). */
  tailLines?: number;
}

export class OutputLines {
  private partial = '';
  private readonly recent: string[] = [];
  private windowStart = 0;
  private inWindow = 0;
  private dropped = 0;
  private readonly maxChars: number;
  private readonly maxLines: number;
  private readonly windowMs: number;
  private readonly tailLines: number;

  constructor(private readonly emit: (line: string) => void, opts: OutputLinesOptions = {}) {
    this.maxChars = opts.maxLineChars ?? 1000;
    this.maxLines = opts.maxLinesPerWindow ?? 100;
    this.windowMs = opts.windowMs ?? 10_000;
    this.tailLines = opts.tailLines ?? 3;
  }

  attach(stream: Readable | null | undefined): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.push(chunk));
    stream.on('end', () => this.end());
  }

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    // A line without an end can be huge (binary junk): cut it now rather than buffering it.
    if (this.partial.length > this.maxChars) { parts.push(this.partial); this.partial = ''; }
    for (const p of parts) this.line(p);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.flushDropped();
  }

  /** The last few non-empty lines, joined with ' | ' (for an error message). */
  tail(): string { return this.recent.join(' | '); }

  private line(raw: string): void {
    const text = raw.replace(/\r$/, '');
    if (!text.trim()) return;
    const line = text.length > this.maxChars ? `${text.slice(0, this.maxChars)}… (${text.length} characters)` : text;
    this.recent.push(line.slice(0, 300));
    if (this.recent.length > this.tailLines) this.recent.shift();
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) { this.flushDropped(); this.windowStart = now; this.inWindow = 0; }
    if (this.inWindow >= this.maxLines) { this.dropped += 1; return; }
    this.inWindow += 1;
    this.emit(line);
  }

  private flushDropped(): void {
    if (this.dropped > 0) this.emit(`(${this.dropped} more lines of engine output dropped)`);
    this.dropped = 0;
  }
}
