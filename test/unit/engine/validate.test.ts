// CompleteRequest validation: every field refused with its name, what it must be and what was received (with its
// type); good requests pass; Generator.complete validates before doing any work.
import * as assert from 'node:assert';
import { Generator } from '../../../extension/engine/generate';
import type { CompleteRequest } from '../../../extension/engine/protocol';
import { ModelRunner } from '../../../extension/engine/runner';
import { validateRequest } from '../../../extension/engine/validate';
import { tinyDir } from './fixture';

const dims = { max_positions: 512, vocab: 384 };

/** [request, error it must raise] */
const BAD: [unknown, RegExp][] = [
  [null, /^the request must be an object, got null$/],
  ['hello', /^the request must be an object, got the string "hello"$/],
  [{ prompt: 42 }, /^prompt must be a string, got the number 42$/],
  [{ prompt: ['a'] }, /^prompt must be a string, got an array of 1 item$/],
  [{ prefix: null }, /^prefix must be a string, got null$/],
  [{ prefix: 'a', suffix: 7 }, /^suffix must be a string, got the number 7$/],
  [{ ids: '1 2 3' }, /^ids must be an array of token ids, got the string "1 2 3"$/],
  [{ ids: [1, 2.5] }, /^ids\[1\] must be a token id \(an integer from 0 to 383\), got the number 2\.5$/],
  [{ ids: [384] }, /^ids\[0\] must be a token id \(an integer from 0 to 383\), got the number 384$/],
  [{ ids: [-1] }, /^ids\[0\] must be a token id.*got the number -1$/],
  [{ ids: ['1'] }, /^ids\[0\] must be a token id.*got the string "1"$/],
  [{ maxTokens: 0 }, /^maxTokens must be a positive integer below the model's 512 positions, got the number 0$/],
  [{ maxTokens: 1.5 }, /^maxTokens must be a positive integer.*got the number 1\.5$/],
  [{ maxTokens: 512 }, /^maxTokens must be a positive integer below the model's 512 positions, got the number 512$/],
  [{ maxTokens: '8' }, /^maxTokens must be .*got the string "8"$/],
  [{ threshold: '0.5' }, /^threshold must be a number >= 0, got the string "0\.5"$/],
  [{ threshold: NaN }, /^threshold must be a number >= 0, got the number NaN$/],
  [{ threshold: -0.1 }, /^threshold must be a number >= 0, got the number -0\.1$/],
  [{ temperature: NaN }, /^temperature must be a finite number >= 0, got the number NaN$/],
  [{ temperature: -1 }, /^temperature must be a finite number >= 0, got the number -1$/],
  [{ temperature: Infinity }, /^temperature must be a finite number >= 0, got the number Infinity$/],
  [{ topP: 0 }, /^topP must be a number > 0 and <= 1, got the number 0$/],
  [{ topP: 1.5 }, /^topP must be a number > 0 and <= 1, got the number 1\.5$/],
  [{ topP: true }, /^topP must be .*got the boolean true$/],
  [{ seed: 1.5 }, /^seed must be an integer, got the number 1\.5$/],
  [{ seed: 10n }, /^seed must be an integer, got the bigint 10n$/],
  [{ stop: '\n' }, /^stop must be an array of non-empty strings, got the string "\\n"$/],
  [{ stop: ['a', ''] }, /^stop\[1\] must be a non-empty string, got the string ""$/],
  [{ stop: [3] }, /^stop\[0\] must be a non-empty string, got the number 3$/],
  [{ reusePrefix: 'no' }, /^reusePrefix must be a boolean, got the string "no"$/],
  [{ draftTokens: -1 }, /^draftTokens must be an integer >= 0, got the number -1$/],
  [{ draftTokens: 2.5 }, /^draftTokens must be an integer >= 0, got the number 2\.5$/],
  [{ heal: 1 }, /^heal must be a boolean, got the number 1$/],
  [{ prompt: 'a', ids: [1] }, /^give one of prompt, prefix or ids, got prompt and ids$/],
  [{ prompt: 'a', prefix: 'b' }, /^give one of prompt, prefix or ids, got prompt and prefix$/],
  [{ prompt: 'a', suffix: 'b' }, /^suffix goes with prefix/],
  [{ prompt: 'x'.repeat(1000), threshold: {} }, /^threshold must be a number >= 0, got an object$/],
];

const GOOD: CompleteRequest[] = [
  {},
  { prompt: '' },
  { prompt: 'def f():', maxTokens: 511, threshold: 0, temperature: 0, topP: 1, seed: -3, stop: ['\n\n'], reusePrefix: false,
    draftTokens: 0, heal: true },
  { prefix: 'a', suffix: 'b', threshold: 1, temperature: 0.7, topP: 0.9, seed: 0, stop: [], draftTokens: 4 },
  { ids: [], maxTokens: 1 },
  { ids: [0, 383] },
  { prompt: 'x', threshold: undefined, stop: undefined },  // undefined = the default
];

describe('engine/validate: CompleteRequest', () => {
  for (const [req, error] of BAD) {
    it(`refuses ${JSON.stringify(req, (_, v) => (typeof v === 'bigint' ? `${v}n` : Number.isNaN(v) ? 'NaN' : v))?.slice(0, 60)}`, () => {
      assert.throws(() => validateRequest(req, dims), (e: Error) => { assert.match(e.message, error); return true; });
    });
  }

  it('accepts good requests, returning them unchanged', () => {
    for (const req of GOOD) assert.strictEqual(validateRequest(req, dims), req);
  });

  it('never echoes a whole long string', () => {
    assert.throws(() => validateRequest({ prefix: 'y'.repeat(10_000), suffix: 3, maxTokens: 'x'.repeat(100) }, dims),
      (e: Error) => e.message.length < 200);
    assert.throws(() => validateRequest({ maxTokens: 'x'.repeat(100) }, dims), /got the string "x{40}"… \(100 characters\)$/);
  });
});

describe('engine/validate: Generator.complete refuses bad requests before any work', () => {
  let runner: ModelRunner;
  before(async () => { runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu' }); });
  after(async () => { await runner?.dispose(); });

  it('names the field, the expected type and the received value', async () => {
    const gen = new Generator(runner);
    const bad = (req: unknown) => gen.complete(req as CompleteRequest);
    await assert.rejects(bad({ prompt: 'x', threshold: '0.5' }), /^Error: threshold must be a number >= 0, got the string "0\.5"/);
    await assert.rejects(bad({ prompt: 42 }), /prompt must be a string, got the number 42/);
    await assert.rejects(bad({ prompt: 'x', stop: '\n' }), /stop must be an array of non-empty strings/);
    await assert.rejects(bad({ prompt: 'x', temperature: NaN }), /temperature must be a finite number >= 0, got the number NaN/);
    await assert.rejects(bad({ prompt: 'x', maxTokens: 600 }), /maxTokens must be a positive integer below the model's 512/);
    assert.strictEqual(runner.cache.length, 0, 'nothing was prefilled');
    const ok = await gen.complete({ prompt: 'x', maxTokens: 2, threshold: 0 });
    assert.ok(ok.tokens.length >= 1);
  });
});
