// Multi-line policy: single line mid-line, blank line, dedent, block end, suffix repetition, max lines, streaming stop.
import * as assert from 'node:assert';
import { applyPolicy, policyContext, shouldStop } from '../../../extension/completion/multiline';

const ctx = (prefix: string, suffix = '', maxLines = 8) => policyContext(prefix, suffix, maxLines);

describe('multi-line policy', () => {
  it('gives one line when text follows the cursor, without repeating it', () => {
    const c = ctx('print(', ')\nx = 1');
    assert.strictEqual(applyPolicy('"hello")\nfoo()', c).text, '"hello"');
    assert.strictEqual(applyPolicy('a, b', c).text, 'a, b');
  });

  it('stops at a blank line', () => {
    const r = applyPolicy('\n    a = 1\n    b = 2\n\n    c = 3', ctx('def f():'));
    assert.strictEqual(r.text, '\n    a = 1\n    b = 2');
    assert.strictEqual(r.reason, 'blank-line');
  });

  it('stops when a line dedents below the cursor line', () => {
    const r = applyPolicy('a = 1\n    b = 2\nclass X:', ctx('    '));
    assert.strictEqual(r.text, 'a = 1\n    b = 2');
    assert.strictEqual(r.reason, 'dedent');
  });

  it('ends a block it opened: keeps a closing brace, drops the next statement', () => {
    assert.strictEqual(applyPolicy('\n  return a + b;\n}\nfunction g() {', ctx('function f(a, b) {')).text, '\n  return a + b;\n}');
    const py = applyPolicy('\n    return x\ndef g():\n    pass', ctx('def f(x):'));
    assert.strictEqual(py.text, '\n    return x');
    assert.strictEqual(py.reason, 'block-end');
  });

  it('never repeats the line that already follows the cursor', () => {
    const r = applyPolicy('\n    total += x\n    return total', ctx('    for x in xs:', '\n    return total\n'));
    assert.strictEqual(r.text, '\n    total += x');
    assert.strictEqual(r.reason, 'repeats-suffix');
  });

  it('caps the number of lines', () => {
    const many = Array.from({ length: 20 }, (_, i) => `x${i} = ${i}`).join('\n');
    const r = applyPolicy(many, ctx('', '', 3));
    assert.strictEqual(r.text.split('\n').length, 3);
    assert.strictEqual(r.reason, 'max-lines');
  });

  it('trims trailing whitespace and keeps a plain single line as is', () => {
    assert.deepStrictEqual(applyPolicy('return 1  \n', ctx('    ')), { text: 'return 1', cut: false, reason: undefined });
  });

  it('signals a stop while streaming only when the rest cannot matter', () => {
    const c = ctx('def f(x):');
    assert.strictEqual(shouldStop('\n    return x', c), false, 'last line may still grow');
    assert.strictEqual(shouldStop('\n    return x\n', c), false, 'next line not started');
    assert.strictEqual(shouldStop('\n    return x\n\n', c), true, 'blank line');
    assert.strictEqual(shouldStop('\n    return x\nd', c), false, 'same indent: wait for the whole line');
    assert.strictEqual(shouldStop('\n    return x\ndef g():\n', c), true, 'block end');
    assert.strictEqual(shouldStop('a, b', ctx('f(', ')')), false);
    assert.strictEqual(shouldStop('a, b)\n', ctx('f(', ')')), true, 'mid-line: one line only');
  });
});
