// A huge prompt is cut to what can reach the model (max_positions × the longest token's characters) before it is
// tokenized: a 50 M-character prompt costs the tokenizer no more than that bound, and gives the same ids.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator } from '../../../extension/engine/generate';
import { ModelRunner } from '../../../extension/engine/runner';
import { clipForTokens, TextTokenizer } from '../../../extension/engine/tokenizer';
import { tinyDir } from './fixture';

/** The fixture's longest vocabulary entry or added token, read from tokenizer.json here. */
function longestToken(): number {
  const j = JSON.parse(readFileSync(join(tinyDir, 'tokenizer.json'), 'utf8'));
  return Math.max(...Object.keys(j.model.vocab).map((k) => k.length), ...j.added_tokens.map((t: { content: string }) => t.content.length));
}

describe('engine/tokenizer: clipForTokens', () => {
  it('keeps the end or the start, at most maxChars long; short text is unchanged', () => {
    assert.strictEqual(clipForTokens('abcdef', 4, 'end'), 'cdef');
    assert.strictEqual(clipForTokens('abcdef', 4, 'start'), 'abcd');
    assert.strictEqual(clipForTokens('abc', 4, 'end'), 'abc');
    assert.strictEqual(clipForTokens('', 0, 'start'), '');
  });

  it('never splits a surrogate pair', () => {
    const s = 'a😀b😀';  // a, high, low, b, high, low
    assert.strictEqual(clipForTokens(s, 4, 'end'), 'b😀');       // the cut fell inside a pair: its half is dropped
    assert.strictEqual(clipForTokens(s, 5, 'end'), '😀b😀');
    assert.strictEqual(clipForTokens(s, 2, 'start'), 'a');       // likewise at the other end
    assert.strictEqual(clipForTokens(s, 3, 'start'), 'a😀');
    assert.strictEqual(clipForTokens(s, 3, 'end'), 'b😀');
  });
});

describe('engine/generate: a huge prompt is cut before tokenizing', () => {
  let runner: ModelRunner;
  before(async () => { runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu' }); });
  after(async () => { await runner?.dispose(); });

  it('maxTokenChars is the longest token of the vocabulary', () => {
    assert.strictEqual(runner.tokenizer.maxTokenChars, longestToken());
  });

  it('a 50 M-character prompt tokenizes at most max_positions × maxTokenChars characters, with the same ids', async () => {
    const tok = runner.tokenizer, positions = runner.manifest.dims.max_positions;
    const bound = positions * longestToken();
    const line = (i: number) => `def f${i % 97}(x):\n    return x * ${i} + "é😀"\n`;
    let prompt = Array.from({ length: 2000 }, (_, i) => line(i)).join('');
    prompt = prompt.repeat(Math.ceil(50e6 / prompt.length)).slice(0, 50e6);
    const seen: number[] = [];
    const encode = tok.encode.bind(tok);
    tok.encode = (text: string) => {
      seen.push(text.length);
      // Refuse before tokenizing, so the old code fails here instead of running for minutes.
      if (text.length > bound) throw new Error(`the tokenizer was given ${text.length} characters (bound ${bound})`);
      return encode(text);
    };
    try {
      const maxTokens = 4;
      const r = await new Generator(runner).complete({ prompt, maxTokens, threshold: 0, tracePrompt: true });
      assert.ok(seen.length >= 1 && seen.every((n) => n <= bound), `tokenizer calls: ${seen}`);
      const want = encode(clipForTokens(prompt, bound, 'end')).slice(-(positions - maxTokens));
      assert.deepStrictEqual(r.prompt!.map((t) => t.id), want);
      assert.strictEqual(r.tokens.length, maxTokens);
    } finally {
      tok.encode = encode;
    }
  });

  it('the cut keeps the ids the whole text would give at its end', async () => {
    const tok: TextTokenizer = runner.tokenizer, positions = runner.manifest.dims.max_positions;
    const text = Array.from({ length: 3000 }, (_, i) => `let v${i} = [${i}, "x${i * 7}"];  // é😀 ${i % 13}\n`).join('');
    const budget = positions - 1;
    const full = tok.encode(text).slice(-budget);
    const cut = tok.encode(clipForTokens(text, positions * tok.maxTokenChars, 'end')).slice(-budget);
    assert.ok(text.length > 10 * positions * tok.maxTokenChars);
    assert.deepStrictEqual(cut, full);
    const r = await new Generator(runner).complete({ prompt: text, maxTokens: 1, threshold: 0, tracePrompt: true });
    assert.deepStrictEqual(r.prompt!.map((t) => t.id), full);
  });
});
