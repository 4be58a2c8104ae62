// Result cache for inline suggestions, keyed by document and the text before the cursor. A lookup also serves a
// suggestion the user is typing into: if the new prefix is an old prefix plus the start of its suggestion, the rest
// of that suggestion is returned without asking the model again. An entry can be marked partial (the first line of
// what the model would write, shown fast while typing): a request that wants the whole suggestion skips it. vscode-free.

interface Entry { doc: string; prefix: string; completion: string; context: string; partial: boolean }

export class CompletionCache {
  private entries: Entry[] = [];           // most recent last
  constructor(private readonly capacity = 64) {}

  get size(): number { return this.entries.length; }

  /** `context` captures what else shaped the result (threshold, model), so a changed setting misses. */
  put(doc: string, prefix: string, completion: string, context = '', partial = false): void {
    if (completion.length === 0) return;
    this.entries = this.entries.filter((e) => !(e.doc === doc && e.prefix === prefix && e.context === context));
    this.entries.push({ doc, prefix, completion, context, partial });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** The suggestion for `prefix`, or the untyped rest of a suggestion the user has typed into; undefined on a miss. */
  get(doc: string, prefix: string, context = '', wholeOnly = false): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.doc !== doc || e.context !== context || (wholeOnly && e.partial)) continue;
      if (prefix === e.prefix) return this.touch(i, e.completion);
      if (prefix.length > e.prefix.length && prefix.startsWith(e.prefix)) {
        const typed = prefix.slice(e.prefix.length);
        if (e.completion.startsWith(typed) && e.completion.length > typed.length) return this.touch(i, e.completion.slice(typed.length));
      }
    }
    return undefined;
  }

  clear(): void { this.entries = []; }

  /** Drops a document's entries (closed or reloaded). */
  forget(doc: string): void { this.entries = this.entries.filter((e) => e.doc !== doc); }

  private touch(i: number, value: string): string {
    const [e] = this.entries.splice(i, 1);
    this.entries.push(e);
    return value;
  }
}
