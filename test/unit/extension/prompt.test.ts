// Prompt building: token budget, anchored truncation (stable starts for prefix reuse), the <filename> header.
import * as assert from 'node:assert';
import { buildPrompt, estimateTokens, promptHeader, stopSequences } from '../../../extension/completion/prompt';

const words = (s: string) => s.split(/\s+/).filter(Boolean).length + (s.match(/\n/g)?.length ?? 0);

describe('prompt', () => {
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i} = ${i} * 2`);
  const prefix = lines.join('\n') + '\nresult = ';

  it('keeps the whole prefix when it fits', () => {
    const p = buildPrompt({ prefix: 'def f(x):\n    return ', suffix: '', languageId: 'python' }, { budgetTokens: 100 });
    assert.strictEqual(p.prompt, 'def f(x):\n    return ');
    assert.strictEqual(p.droppedLines, 0);
  });

  it('drops whole lines from the top to fit the budget, never the cursor line', () => {
    const p = buildPrompt({ prefix, suffix: '', languageId: 'python' }, { budgetTokens: 120, countTokens: words });
    assert.ok(p.tokens <= 120, `tokens ${p.tokens}`);
    assert.ok(p.prompt.endsWith('line 199 = 199 * 2\nresult = '));
    assert.ok(p.prompt.startsWith('line '), 'starts at a line boundary');
    assert.strictEqual(p.droppedLines % 16, 0, 'drop is a multiple of the anchor');
  });

  it('keeps the same start while the user types (the engine can reuse its cached prefix)', () => {
    const opts = { budgetTokens: 120, countTokens: words };
    const a = buildPrompt({ prefix, suffix: '', languageId: 'python' }, opts);
    const b = buildPrompt({ prefix: prefix + 'line', suffix: '', languageId: 'python' }, opts);
    const c = buildPrompt({ prefix: prefix + 'line 3', suffix: '', languageId: 'python' }, opts);
    assert.strictEqual(a.droppedLines, b.droppedLines);
    assert.strictEqual(b.droppedLines, c.droppedLines);
    assert.ok(c.prompt.startsWith(a.prompt));
  });

  it('adds <filename> only when the model has that token', () => {
    const input = { prefix: 'x = ', suffix: '', languageId: 'python', filename: 'src/a.py' };
    assert.strictEqual(promptHeader(input, ['<filename>', '<file_sep>']), '<filename>src/a.py\n');
    assert.strictEqual(promptHeader(input, ['<|endoftext|>']), '');
    const p = buildPrompt(input, { budgetTokens: 50, specialTokens: ['<filename>'] });
    assert.strictEqual(p.prompt, '<filename>src/a.py\nx = ');
  });

  it('cuts an over-long single line from the left', () => {
    const long = 'a'.repeat(3000);
    const p = buildPrompt({ prefix: long, suffix: '', languageId: 'js' }, { budgetTokens: 100 });
    assert.ok(p.cutMidLine);
    assert.ok(estimateTokens(p.prompt) <= 100);
    assert.ok(p.prompt.length > 0 && long.endsWith(p.prompt));
  });

  it('rejects a non-positive budget with a clear error', () => {
    assert.throws(() => buildPrompt({ prefix: 'x', suffix: '', languageId: 'js' }, { budgetTokens: 0 }), /budget must be positive/);
  });

  it('stops on the model\'s end-of-text / file-separator tokens when it has them', () => {
    assert.deepStrictEqual(stopSequences(['<|endoftext|>', '<file_sep>']), ['\n\n\n', '<|endoftext|>', '<file_sep>']);
    assert.deepStrictEqual(stopSequences([]), ['\n\n\n']);
  });
});
