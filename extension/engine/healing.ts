// Token healing: a prompt that ends where the user's cursor is usually ends inside a token the model would have
// used (`retu` → " ret" + "u" where the model knows " return"; `):\n    ` → one "\n    " token the model rarely saw
// before code, since "\n   " + " return" is how indented code tokenizes). The generator backs the prompt up over
// those tokens and constrains the first generated token(s) to reproduce the removed text; only what comes after the
// user's text is emitted. Per tokenizer, the decoded text of every token is computed once and kept sorted, so the
// tokens consistent with a text are a binary-searched range plus the few tokens that are prefixes of it.
import { readFileSync } from 'node:fs';
import type { TextTokenizer } from './tokenizer';

/** At most this many prompt tokens are backed up, covering at most this many characters. */
export const MAX_HEAL_TOKENS = 4;
export const MAX_HEAL_CHARS = 32;

/** The decoded text of every ordinary token, sorted, for prefix queries. Special/added tokens never heal. */
export class HealVocab {
  /** Ids sorted by their text (UTF-16 code unit order, the order of `<` on strings). */
  private readonly sorted: Int32Array;
  private readonly byText = new Map<string, number[]>();

  constructor(readonly texts: readonly (string | undefined)[]) {
    const ids: number[] = [];
    texts.forEach((t, id) => {
      if (t === undefined) return;
      ids.push(id);
      const same = this.byText.get(t);
      if (same) same.push(id); else this.byText.set(t, [id]);
    });
    ids.sort((a, b) => (texts[a]! < texts[b]! ? -1 : texts[a]! > texts[b]! ? 1 : a - b));
    this.sorted = Int32Array.from(ids);
  }

  /** Text of an ordinary token; undefined for special, added and partial-character tokens. */
  text(id: number): string | undefined { return this.texts[id]; }

  /** Ids whose text starts with `prefix` (the exact text included), in text order. */
  *startingWith(prefix: string): Generator<number> {
    const s = this.sorted, t = this.texts;
    let lo = 0, hi = s.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (t[s[mid]]! < prefix) lo = mid + 1; else hi = mid; }
    for (let i = lo; i < s.length && t[s[i]]!.startsWith(prefix); i++) yield s[i];
  }

  /** Ids a generated token may have while `rest` is still owed: its text starts with `rest`, or is a non-empty
   * prefix of it (then the next token owes the remainder). */
  consistent(rest: string): number[] {
    const out = [...this.startingWith(rest)];
    for (let n = 1; n < rest.length; n++) out.push(...(this.byText.get(rest.slice(0, n)) ?? []));
    return out;
  }
}

const vocabs = new WeakMap<TextTokenizer, HealVocab>();

/** Ids of tokenizer.json's added tokens (<|endoftext|>, <filename>, …): they decode to text but are not text. */
export function addedTokenIds(tokenizerJsonPath: string): number[] {
  try {
    const json = JSON.parse(readFileSync(tokenizerJsonPath, 'utf8')) as { added_tokens?: { id: number }[] };
    return (json.added_tokens ?? []).map((t) => t.id);
  } catch {
    return [];
  }
}

/**
 * The HealVocab of a tokenizer, built on first use (~250 ms for SmolLM2's 49k tokens) and then kept as long as the
 * tokenizer. `exclude` gives the ids that must never be generated to heal (special and added tokens).
 */
export function healVocabFor(tok: TextTokenizer, vocabSize: number, exclude: () => Iterable<number>): HealVocab {
  let v = vocabs.get(tok);
  if (!v) {
    const skip = new Set(exclude());
    const texts: (string | undefined)[] = new Array(vocabSize);
    for (let id = 0; id < vocabSize; id++) {
      if (skip.has(id)) continue;
      const t = tok.decode([id]);
      // A token holding part of a UTF-8 character decodes to U+FFFD: its text cannot be compared, leave it out.
      if (t.length > 0 && !t.includes('\uFFFD')) texts[id] = t;
    }
    v = new HealVocab(texts);
    vocabs.set(tok, v);
  }
  return v;
}

export interface HealPlan {
  /** Prompt tokens kept (the prompt is ids.slice(0, keep)). */
  keep: number;
  /** Prompt tokens removed (ids.length - keep). */
  tokens: number;
  /** Text of the removed tokens: the completion must start with it, and it is not emitted. */
  removed: string;
}

/**
 * Whether a longer token than `text` starts with it and is one the tokenizer really produces (re-tokenizing its text
 * gives that token alone): only then may the cursor have split a token the model would have used.
 */
function extendable(text: string, tok: TextTokenizer, vocab: HealVocab): boolean {
  let tried = 0;
  for (const id of vocab.startingWith(text)) {
    const t = vocab.text(id)!;
    if (t.length === text.length) continue;
    const ids = tok.encode(t);
    if (ids.length === 1 && ids[0] === id) return true;
    if (++tried >= 64) break;
  }
  return false;
}

/**
 * Which tail of the prompt `ids` to back up: the longest tail of at most MAX_HEAL_TOKENS ordinary tokens
 * (MAX_HEAL_CHARS characters) whose text a longer vocabulary token could extend. At least `minKeep` tokens stay.
 * Undefined when nothing at the end can be extended (e.g. a prompt ending in `)` followed by nothing longer).
 */
export function planHealing(ids: readonly number[], tok: TextTokenizer, vocab: HealVocab, minKeep = 1): HealPlan | undefined {
  let plan: HealPlan | undefined;
  let text = '';
  for (let k = 1; k <= MAX_HEAL_TOKENS && ids.length - k >= minKeep; k++) {
    const piece = vocab.text(ids[ids.length - k]);
    if (piece === undefined) break;                 // a special token or a partial character: never cross it
    text = piece + text;
    if (text.length > MAX_HEAL_CHARS) break;
    if (extendable(text, tok, vocab)) plan = { keep: ids.length - k, tokens: k, removed: text };
  }
  // Token texts concatenate to the decoded text for byte-level tokenizers; for any other, do not heal.
  if (plan && tok.decode(ids.slice(plan.keep)) !== plan.removed) return undefined;
  return plan;
}

/**
 * The state of one healed generation: masks the logits while removed text is still owed, and strips the removed
 * text from the decoded stream so only the user's new text comes out.
 */
export class Healer {
  private rest: string;
  private toStrip: number;

  constructor(private readonly vocab: HealVocab, readonly plan: HealPlan) {
    this.rest = plan.removed;
    this.toStrip = plan.removed.length;
  }

  /** True while the next token is still constrained. */
  get active(): boolean { return this.rest.length > 0; }

  /** `logits`, or a copy where every token inconsistent with the owed text is -Infinity. */
  mask(logits: Float32Array): Float32Array {
    if (!this.active) return logits;
    const allowed = this.vocab.consistent(this.rest);
    if (allowed.length === 0) { this.rest = ''; return logits; }  // cannot happen for a planned heal; never block
    const out = new Float32Array(logits.length).fill(-Infinity);
    for (const id of allowed) out[id] = logits[id];
    return out;
  }

  /** Record the sampled token (after mask): the owed text shrinks by what it produced. */
  accept(id: number): void {
    if (!this.active) return;
    const t = this.vocab.text(id) ?? '';
    this.rest = t.length >= this.rest.length ? '' : this.rest.slice(t.length);
  }

  /** The part of newly decoded text that comes after the user's text. */
  strip(piece: string): string {
    if (this.toStrip === 0) return piece;
    const n = Math.min(this.toStrip, piece.length);
    this.toStrip -= n;
    return piece.slice(n);
  }
}
