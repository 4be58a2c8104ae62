// The request of an inline suggestion: plain text, file name and budget for the engine (which builds the prompt with
// the model's tokenizer), stops from the model's special tokens, the threshold in effect.
import * as assert from 'node:assert';
import { stopSequences, suggestionRequest } from '../../../extension/completion/request';
import { DEFAULTS } from '../../../extension/completion/settings';

describe('suggestion request', () => {
  it('sends the text around the cursor, the file name and the token budget; the engine does the rest', () => {
    const r = suggestionRequest({ prefix: 'def f(x):\n    ', suffix: '\nprint(1)', filename: 'src/a.py' },
      { ...DEFAULTS, promptTokens: 300, maxTokens: 20 }, { specialTokens: ['<filename>', '<|endoftext|>'], thresholdDefault: 0.5 });
    assert.deepStrictEqual(r, { prefix: 'def f(x):\n    ', suffix: '\nprint(1)', filename: 'src/a.py', budget: 300, maxTokens: 20,
      threshold: 0.5, temperature: 0, stop: ['\n\n\n', '<|endoftext|>', '<filename>'], draftTokens: 0, heal: true });
  });

  it('takes the threshold from the setting, else the model\'s default; dense mode wins', () => {
    const m = { specialTokens: [], thresholdDefault: 0.4 };
    const t = { prefix: 'x', suffix: '' };
    assert.strictEqual(suggestionRequest(t, { ...DEFAULTS, threshold: null }, m).threshold, 0.4);
    assert.strictEqual(suggestionRequest(t, { ...DEFAULTS, threshold: 0.7 }, m).threshold, 0.7);
    assert.strictEqual(suggestionRequest(t, { ...DEFAULTS, threshold: 0.7, denseMode: true }, m).threshold, 0);
    assert.strictEqual(suggestionRequest(t, DEFAULTS, { specialTokens: [] }).threshold, undefined, 'no model yet: the engine decides');
  });

  it('stops on the model\'s end-of-text / file-separator tokens when it has them', () => {
    assert.deepStrictEqual(stopSequences(['<|endoftext|>', '<file_sep>']), ['\n\n\n', '<|endoftext|>', '<file_sep>']);
    assert.deepStrictEqual(stopSequences([]), ['\n\n\n']);
  });
});
