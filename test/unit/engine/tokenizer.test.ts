// Tokenizer parity with the toolkit's (Rust tokenizers) ids on the fixture's cases, and streaming detokenization
// that reproduces the text exactly, multi-byte characters included.
import * as assert from 'node:assert';
import { join } from 'node:path';
import { Detokenizer, TextTokenizer } from '../../../extension/engine/tokenizer';
import { readParity, tinyDir } from './fixture';

describe('engine/tokenizer', () => {
  const tok = TextTokenizer.fromFile(join(tinyDir, 'tokenizer.json'));
  const cases = readParity(tinyDir).tokenizer_cases;

  it('encodes every parity case to the same ids as the Python toolkit', () => {
    assert.ok(cases.length >= 3, 'fixture has tokenizer cases');
    for (const c of cases) assert.deepStrictEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
  });

  it('decodes back to the exact text (no clean-up of code spacing)', () => {
    for (const c of cases) assert.strictEqual(tok.decode(c.ids), c.text);
  });

  it('streams token by token to the same text, never emitting half a character', () => {
    for (const c of cases) {
      const d = new Detokenizer(tok);
      const parts = c.ids.map((id) => d.push(id));
      parts.push(d.flush());
      assert.strictEqual(parts.join(''), c.text, JSON.stringify(c.text));
      assert.ok(parts.every((p) => !p.includes('\uFFFD')), `no replacement char in ${JSON.stringify(parts)}`);
    }
  });

  it('the fixture does split a character over tokens (so the streaming test above means something)', () => {
    const c = cases.find((x) => /[^\x00-\x7f]/.test(x.text));
    assert.ok(c, 'a case with non-ASCII text');
    const pieces = tok.pieces(c.ids);
    assert.ok(pieces.some((p) => p.includes('\uFFFD')), 'the fixture splits some character over tokens');
  });

  it('a missing or broken tokenizer.json is a clear error', () => {
    assert.throws(() => TextTokenizer.fromFile('/nonexistent/tokenizer.json'), /cannot read .*tokenizer\.json.*Rebuild/);
  });
});
