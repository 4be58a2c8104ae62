// The engine request of an inline suggestion, in plain data: the text around the cursor, the file's name and the
// prompt budget go to the engine, which builds the prompt with the model's own tokenizer (a `<filename>` header when
// the vocabulary has it, the end of the prefix from a stable line start: engine/promptWindow.ts). The host only adds
// the stop strings and the settings. vscode-free.
import type { CompleteRequest } from '../engine/protocol';
import type { SkipgptSettings } from './settings';
import { resolveDial, type ModelSparsity } from './sparsityDial';

export interface EditorText {
  prefix: string;
  suffix: string;
  /** Workspace-relative path, shown to the model after `<filename>` when it has that token. */
  filename?: string;
}

/** Stop strings handed to the engine so generation ends where post-processing would cut anyway. */
export function stopSequences(specialTokens: readonly string[] = []): string[] {
  const stops = ['\n\n\n'];
  for (const t of ['<|endoftext|>', '<|im_end|>', '<file_sep>', '<filename>']) if (specialTokens.includes(t)) stops.push(t);
  return stops;
}

/** What the model knows, from LoadInfo (undefined before a model is loaded). */
export interface ModelFacts extends ModelSparsity { specialTokens: readonly string[] }

/** The request of a suggestion at the cursor: greedy, healed at the cursor, budgeted in the engine. */
export function suggestionRequest(t: EditorText, s: SkipgptSettings, model: ModelFacts): CompleteRequest {
  return {
    prefix: t.prefix, suffix: t.suffix, filename: t.filename, budget: s.promptTokens, maxTokens: s.maxTokens,
    ...resolveDial(s, model).request, temperature: 0,  // a target skip rate, or the threshold (sparsityDial.ts)
    stop: stopSequences(model.specialTokens),
    draftTokens: s.draftTokens,
    heal: true,  // the prompt ends at the cursor: re-generate the token it splits
  };
}
