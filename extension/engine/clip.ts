// Cutting text before it is tokenized: at most max_positions × the longest token's characters can reach the model
// (LoadInfo.maxPromptChars), so anything beyond is dropped first. No tokenizer here: EngineClient uses it on the host
// side to cut a huge text before it crosses the process boundary, the engine before it tokenizes.

/**
 * The part of `text` that can matter when at most `maxChars` characters can reach the model (max_positions ×
 * maxTokenChars): the last maxChars characters (`keep: 'end'`: the text before the cursor) or the first (`'start'`: the
 * text after it). Cutting before tokenizing keeps a huge file from costing minutes and gigabytes (or V8's life). A cut
 * never splits a surrogate pair (the half is dropped), so the result is at most maxChars long.
 */
export function clipForTokens(text: string, maxChars: number, keep: 'start' | 'end'): string {
  if (text.length <= maxChars) return text;
  const low = (i: number) => (text.charCodeAt(i) & 0xfc00) === 0xdc00, high = (i: number) => (text.charCodeAt(i) & 0xfc00) === 0xd800;
  if (keep === 'start') return text.slice(0, high(maxChars - 1) && low(maxChars) ? maxChars - 1 : maxChars);
  const start = text.length - maxChars;
  return text.slice(low(start) && high(start - 1) ? start + 1 : start);
}
