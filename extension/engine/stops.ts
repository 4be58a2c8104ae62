// Stop sequences on decoded text while streaming: text that could still become the start of a stop sequence is
// held back, so the stop text itself is never emitted even when it spans several tokens.

export class StopFilter {
  private pending = '';
  /** All text emitted so far (the completion, stop excluded). */
  emitted = '';
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    for (const s of stops) if (s.length === 0) throw new Error('stop sequences must be non-empty strings');
  }

  /** Add newly decoded text; returns the text now safe to show. After a stop is found, returns ''. */
  push(delta: string): string {
    if (this.stopped) return '';
    this.pending += delta;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      return this.release(cut);
    }
    return this.release(this.pending.length - this.heldBack());
  }

  /** End of generation without a stop: everything pending is completion text. */
  flush(): string {
    return this.stopped ? '' : this.release(this.pending.length);
  }

  /** Length of the longest suffix of `pending` that is a proper prefix of some stop sequence. */
  private heldBack(): number {
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > keep; k--) {
        if (this.pending.endsWith(s.slice(0, k))) { keep = k; break; }
      }
    }
    return keep;
  }

  private release(n: number): string {
    const out = this.pending.slice(0, n);
    this.pending = this.stopped ? '' : this.pending.slice(n);
    this.emitted += out;
    return out;
  }
}
