// Prompt building for inline completion: the file's prefix within a token budget, headed by the model's own
// `<filename>` token when its vocabulary has one. SmolLM2 has no fill-in-the-middle tokens (its specials are
// <|endoftext|>, <|im_start|>, <repo_name>, <file_sep>, <filename>, ...), so the suffix is not put in the prompt; it
// only steers post-processing (multiline.ts). vscode-free.

export interface PromptInput {
  prefix: string;
  suffix: string;
  languageId: string;
  /** Workspace-relative path, shown to the model after `<filename>`. */
  filename?: string;
}

export interface PromptOptions {
  budgetTokens: number;
  /** Exact count from the model's tokenizer when available; otherwise a conservative estimate. */
  countTokens?: (text: string) => number;
  /** Special tokens the model knows (manifest / tokenizer.json added tokens). */
  specialTokens?: readonly string[];
  /** Lines dropped from the top are rounded up to a multiple of this, so consecutive prompts keep the same start
   * while the user types and the engine can reuse its cached prefix. */
  anchorLines?: number;
}

export interface BuiltPrompt {
  prompt: string;
  header: string;
  /** Lines of the file's prefix left out to fit the budget. */
  droppedLines: number;
  tokens: number;
  /** True when a single over-long line had to be cut mid-line. */
  cutMidLine: boolean;
}

/** ~3 characters per token for code in a GPT-2-style BPE; errs on the side of a shorter prompt. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 3);

export function promptHeader(input: PromptInput, specialTokens: readonly string[] = []): string {
  if (input.filename && specialTokens.includes('<filename>')) return `<filename>${input.filename}\n`;
  return '';
}

export function buildPrompt(input: PromptInput, opts: PromptOptions): BuiltPrompt {
  if (!(opts.budgetTokens > 0)) throw new Error(`prompt budget must be positive, got ${opts.budgetTokens}`);
  const count = opts.countTokens ?? estimateTokens;
  const anchor = Math.max(1, opts.anchorLines ?? 16);
  const header = promptHeader(input, opts.specialTokens);
  const budget = Math.max(1, opts.budgetTokens - (header ? count(header) : 0));
  const lines = input.prefix.split('\n');
  if (count(input.prefix) <= budget) {
    return { prompt: header + input.prefix, header, droppedLines: 0, tokens: count(header + input.prefix), cutMidLine: false };
  }
  // Smallest anchored drop that fits: try 1·anchor, 2·anchor, … lines (binary search over multiples).
  const maxK = Math.ceil((lines.length - 1) / anchor);
  let lo = 1, hi = maxK, best = -1;
  while (lo <= hi) {
    const k = (lo + hi) >> 1;
    const drop = Math.min(lines.length - 1, k * anchor);
    if (count(lines.slice(drop).join('\n')) <= budget) { best = drop; hi = k - 1; } else lo = k + 1;
  }
  if (best >= 0) {
    const body = lines.slice(best).join('\n');
    return { prompt: header + body, header, droppedLines: best, tokens: count(header + body), cutMidLine: false };
  }
  // Even the cursor's own line is over budget (minified code): keep its tail.
  const last = lines[lines.length - 1];
  let keep = Math.min(last.length, budget * 3);
  while (keep > 1 && count(last.slice(last.length - keep)) > budget) keep = Math.floor(keep * 0.8);
  const body = last.slice(last.length - keep);
  return { prompt: header + body, header, droppedLines: lines.length - 1, tokens: count(header + body), cutMidLine: true };
}

/** Stop strings handed to the engine so generation ends where post-processing would cut anyway. */
export function stopSequences(specialTokens: readonly string[] = []): string[] {
  const stops = ['\n\n\n'];
  for (const t of ['<|endoftext|>', '<|im_end|>', '<file_sep>', '<filename>']) if (specialTokens.includes(t)) stops.push(t);
  return stops;
}
