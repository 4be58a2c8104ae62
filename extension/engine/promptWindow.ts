// The prompt of an editor request ({prefix, filename, budget}): a `<filename>path\n` header when the vocabulary has
// that token, then the end of the prefix that fits `budget` tokens, counted with the model's own tokenizer. The
// start of the kept prefix is a line start and it does not move while the prompt still fits: the Generator reuses
// the K/V of the longest common token prefix with the previous request, so a start that moved on every keystroke
// would prefill the whole prompt every time. When the prompt outgrows the budget the start is cut again, leaving
// WINDOW_SLACK of the budget free, so the next cut is that many typed tokens away.
import { clipForTokens } from './clip';
import type { TextTokenizer } from './tokenizer';

/** Share of the budget left free when the start is cut again (the typing room before the next cut). */
export const WINDOW_SLACK = 0.25;
/** Characters of the kept prefix remembered to find its start again in the next request's prefix. */
const ANCHOR_CHARS = 160;

export interface PromptWindow {
  /** Token ids of header + prefix.slice(start) (a cursor line over the budget alone: its last `budget` tokens). */
  ids: number[];
  header: string;
  /** Index in the request's prefix where the prompt's text starts. */
  start: number;
}

export class PromptWindowPlanner {
  /** The first characters of the previous window's prefix text (it starts at a line start or at the prefix start). */
  private anchor?: string;

  constructor(private readonly tok: TextTokenizer, private readonly hasFilenameToken: boolean) {}

  header(filename: string | undefined): string {
    return filename && this.hasFilenameToken ? `<filename>${filename}\n` : '';
  }

  /** Forget the remembered start (the next plan cuts afresh). */
  reset(): void { this.anchor = undefined; }

  plan(prefix: string, filename: string | undefined, budget: number): PromptWindow {
    const header = this.header(filename);
    const maxChars = budget * this.tok.maxTokenChars;   // more characters than this can never fit
    const encode = (start: number) => this.tok.encode(header + prefix.slice(start));
    const keep = (start: number, ids: number[]): PromptWindow => {
      this.anchor = prefix.slice(start, start + ANCHOR_CHARS);
      return { ids, header, start };
    };

    // 1. The previous start, found again by its text, while the prompt from there still fits.
    const prev = this.anchor ? this.locate(prefix, this.anchor) : -1;
    if (prev >= 0 && prefix.length - prev <= maxChars) {
      const ids = encode(prev);
      if (ids.length <= budget) return keep(prev, ids);
    }
    // 2. The whole prefix, if it fits.
    if (prefix.length <= maxChars) {
      const ids = encode(0);
      if (ids.length <= budget) return keep(0, ids);
    }
    // 3. A new start: the earliest line start whose prompt fits (1 - WINDOW_SLACK) of the budget (binary search:
    //    a later start never has more tokens).
    const target = Math.max(1, Math.floor(budget * (1 - WINDOW_SLACK)));
    const from = prefix.length - clipForTokens(prefix, maxChars, 'end').length;
    const starts: number[] = [];
    for (let i = prefix.indexOf('\n', Math.max(0, from - 1)); i >= 0 && i < prefix.length - 1; i = prefix.indexOf('\n', i + 1)) {
      if (i + 1 >= from) starts.push(i + 1);
    }
    let lo = 0, hi = starts.length - 1, best = -1, bestIds: number[] = [];
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const ids = encode(starts[mid]);
      if (ids.length <= target) { best = starts[mid]; bestIds = ids; hi = mid - 1; } else lo = mid + 1;
    }
    if (best >= 0) return keep(best, bestIds);
    // 4. The cursor's line alone is over the budget (minified code): its last tokens, no stable start to keep.
    this.anchor = undefined;
    const lineStart = prefix.lastIndexOf('\n') + 1;
    const headerIds = header ? this.tok.encode(header) : [];
    const room = Math.max(1, budget - headerIds.length);
    const line = clipForTokens(prefix.slice(lineStart), room * this.tok.maxTokenChars, 'end');
    const tail = this.tok.encode(line).slice(-room);
    return { ids: [...headerIds, ...tail], header, start: prefix.length - this.tok.decode(tail).length };
  }

  /** Where `anchor` is in `prefix`: the last occurrence (nearest the cursor) that sits at a line start or at 0. */
  private locate(prefix: string, anchor: string): number {
    for (let at = prefix.lastIndexOf(anchor); at >= 0; at = at > 0 ? prefix.lastIndexOf(anchor, at - 1) : -1) {
      if (at === 0 || prefix.charCodeAt(at - 1) === 10) return at;
    }
    return -1;
  }
}
