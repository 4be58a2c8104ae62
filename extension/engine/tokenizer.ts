// Tokenizer of a model folder (tokenizer.json through @huggingface/tokenizers) and incremental detokenization for
// streaming: each new token is decoded together with the tokens before it, so spacing and multi-byte UTF-8
// characters split over several tokens come out right.
import { Tokenizer } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { jsonProblem } from './manifest';

export class TextTokenizer {
  private longest?: number;

  /** `exact`: one token never covers more input characters than its vocabulary entry has (see maxTokenChars). */
  private constructor(private readonly tok: Tokenizer, readonly addSpecialTokens: boolean, private readonly exact: boolean) {}

  /**
   * Load tokenizer.json. `config` plays the role of tokenizer_config.json (the model folder has none): code
   * completion needs clean_up_tokenization_spaces false, or " ." would decode as ".".
   */
  static fromFile(path: string, opts: { addSpecialTokens?: boolean; config?: Record<string, unknown> } = {}): TextTokenizer {
    const rebuild = 'Rebuild the model folder (`npm run model` / `python -m skipgpt build`).';
    let text: string, json: unknown;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`tokenizer: cannot read ${path}: ${(e as Error).message}. ${rebuild}`);
    }
    try {
      json = JSON.parse(text);
    } catch (e) {
      // Never echo the text: the error would show the first bytes of whatever file this is.
      throw new Error(`tokenizer: ${path} is ${jsonProblem(e)}. ${rebuild}`);
    }
    try {
      const tok = new Tokenizer(json as object, { clean_up_tokenization_spaces: false, ...opts.config });
      const j = json as { normalizer?: unknown; model?: { type?: string } };
      return new TextTokenizer(tok, opts.addSpecialTokens ?? false, !j.normalizer && j.model?.type === 'BPE');
    } catch (e) {
      throw new Error(`tokenizer: ${path} is not a usable Hugging Face tokenizer.json: ${(e as Error).message}`);
    }
  }

  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.tok.encode(text, { add_special_tokens: this.addSpecialTokens }).ids;
  }

  decode(ids: readonly number[]): string {
    return ids.length === 0 ? '' : this.tok.decode(ids as number[], { skip_special_tokens: false });
  }

  tokenId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * The most input characters one token can stand for (computed once): its longest vocabulary entry. Byte-level BPE
   * entries spell each input byte with one character, so an entry is never shorter than the text it covers. A
   * normalizer (NFC folds characters together) or another model type (WordPiece's [UNK] stands for a whole word)
   * voids that, so those get a wide margin instead.
   */
  get maxTokenChars(): number {
    if (this.longest === undefined) {
      let n = 1;
      for (const t of this.tok.get_vocab(true).keys()) n = Math.max(n, t.length);
      for (const t of this.tok.get_added_tokens_decoder().values()) n = Math.max(n, t.content.length);
      this.longest = this.exact ? n : Math.max(n, 128) * 4;
    }
    return this.longest;
  }

  /** The text of each id on its own (for the inspector; may show partial UTF-8 as U+FFFD). */
  pieces(ids: readonly number[]): string[] {
    return ids.map((id) => this.decode([id]));
  }
}

/** Re-exported from clip.ts (no tokenizer needed to cut text; the host side uses it too). */
export { clipForTokens } from './clip';

/** How many earlier tokens to decode along with the new ones (enough for spacing rules of the decoders). */
const CONTEXT = 4;

/**
 * Streams text token by token. Text is released only once it no longer ends in U+FFFD (an incomplete UTF-8
 * sequence), the same rule Hugging Face's TextStreamer uses.
 */
export class Detokenizer {
  private ids: number[];
  private prefixOffset = 0;
  private readOffset: number;

  constructor(private readonly tok: TextTokenizer, context: readonly number[] = []) {
    this.ids = context.slice(-CONTEXT);
    this.readOffset = this.ids.length;
  }

  /** Add one token; returns the newly complete text ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const before = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.tok.decode(this.ids.slice(this.prefixOffset));
    if (after.length > before.length && !after.endsWith('\uFFFD') && after.startsWith(before)) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      // Ids before prefixOffset are never decoded again: drop them to keep each decode short.
      this.ids = this.ids.slice(this.prefixOffset);
      this.readOffset -= this.prefixOffset;
      this.prefixOffset = 0;
      return after.slice(before.length);
    }
    return '';
  }

  /** Whatever is still held back at the end (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const before = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.tok.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return after.startsWith(before) ? after.slice(before.length) : '';
  }
}
