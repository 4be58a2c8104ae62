// Prompt-lookup drafts for speculative decoding: code repeats itself (a second call of the same function, a field
// list echoed in a constructor, a closing of what was opened), so the tokens that followed an earlier occurrence of
// the last few tokens are a good guess at what comes next. The generator verifies a draft in one forward step
// (generate.ts): a wrong guess costs the extra rows of that step, never a different output.

/** Longest n-gram tried first; 1-grams are never used (they match everywhere and guess badly). */
export const MAX_NGRAM = 4;
export const MIN_NGRAM = 2;
/** How far back to look (tokens): the prompt budget of an editor completion is 512 by default. */
export const LOOKBACK = 2048;

/**
 * Up to `max` tokens that followed the most recent earlier occurrence of the sequence's last n tokens, for the
 * largest n in MAX_NGRAM..MIN_NGRAM with a match that has at least one token after it. Empty when nothing matches.
 * O(LOOKBACK * n) per call: about 10 µs at 2,000 tokens, against ~13 ms for a decode step.
 */
export function findDraft(seq: ArrayLike<number>, max: number): number[] {
  const len = seq.length;
  if (max < 1) return [];
  const from = Math.max(0, len - LOOKBACK);
  for (let n = Math.min(MAX_NGRAM, len - 1); n >= MIN_NGRAM; n--) {
    const tail = len - n;
    // An occurrence ending at `end` (exclusive) with end < len, so at least one token follows it.
    for (let end = len - 1; end - n >= from; end--) {
      let k = 0;
      while (k < n && seq[end - n + k] === seq[tail + k]) k++;
      if (k < n) continue;
      const out: number[] = [];
      for (let i = end; i < len && out.length < max; i++) out.push(seq[i]);
      return out;
    }
  }
  return [];
}
