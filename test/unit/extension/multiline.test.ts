// Multi-line policy: single line mid-line, blank line, dedent, block end, suffix repetition, max lines, streaming stop.
import * as assert from 'node:assert';
import { bracketBalance, echoStart, mayRepeat } from '../../../extension/completion/degenerate';
import { applyPolicy, policyContext, shouldStop, startsBlock } from '../../../extension/completion/multiline';

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

describe('multi-line policy: degenerate suggestions (table)', () => {
  // [what, prefix, suffix, completion, expected text, expected reason]
  const table: [string, string, string, string, string, string | undefined][] = [
    ['a line repeated in a row is cut at the repeat', 'def deco(f):\n    ', '',
      'wrapper.__doc__ = f.__doc__\n    wrapper.__doc__ = f.__doc__\n    wrapper.__doc__ = f.__doc__',
      'wrapper.__doc__ = f.__doc__', 'repeated-line'],
    ['the line the cursor ends repeated on the next line', 'def deco(f):\n    wrapper.__doc__ = wrapper', '',
      '\n    wrapper.__doc__ = wrapper\n    wrapper.__doc__ = wrapper', '', 'repeated-line'],
    ['a first line repeating the line above the cursor is dropped', 'def f():\n    x = load()\n    ', '',
      'x = load()\n    return x', '', 'repeated-line'],
    ['closers may come twice in a row', 'function f() {\n  if (a) {\n    b();\n', '',
      '  }\n}', '  }\n}', undefined],
    ['a repeat at another indentation is not a repeat', 'def f():\n    ', '', 'if a:\n        if a:\n            pass',
      'if a:\n        if a:\n            pass', undefined],
    ['mid-line: an echo with the suffix\'s own leading space', 'y = x', ' + 1)', ' * 2 + 1)', ' * 2', 'repeats-suffix'],
    ['mid-line: the closing bracket already there is dropped', 'foo(', ')', 'a, b)', 'a, b', 'repeats-suffix'],
    ['mid-line: a suggestion that only closes is dropped', 'foo(a, b', ')', ')', '', 'repeats-suffix'],
    ['mid-line: its own balanced bracket stays', 'print(', ')', 'len(a)', 'len(a)', undefined],
    ['mid-line: echo of a longer suffix, cut where it starts', 'x = compute(', 'items, 2)', 'data, items, 2)', 'data, ', 'repeats-suffix'],
    ['mid-line: echo inside a word keeps the new part', 'x = ', 'value + 1', 'new_value + 1', 'new_', 'repeats-suffix'],
    ['mid-line: text that does not echo is kept', 'f(', ')', 'x + 1', 'x + 1', undefined],
    ['an empty line before an existing closer: the closer alone is dropped', 'if (a) {\n  b();\n', '}\n', '}', '', 'repeats-suffix'],
    ['a closer not already there is kept', 'if (a) {\n  b();\n', '\nfoo();', '}', '}', undefined],
  ];
  for (const [what, prefix, suffix, completion, text, reason] of table) {
    it(what, () => {
      const r = applyPolicy(completion, ctx(prefix, suffix));
      assert.strictEqual(r.text, text);
      assert.strictEqual(r.reason, reason);
    });
  }

  it('streaming: stops at a repeated line, but not while a mid-line echo may still go on', () => {
    const c = ctx('def deco(f):\n    ');
    assert.strictEqual(shouldStop('a = 1\n    a = 1', c), false, 'second line not finished');
    assert.strictEqual(shouldStop('a = 1\n    a = 1\n', c), true);
    assert.strictEqual(shouldStop('a, b)', ctx('foo(', ')')), false, '`a, b) + c` could follow');
  });

  it('policyContext gives the line above the cursor', () => {
    assert.strictEqual(ctx('a\nb\n  c').lineAbove, 'b');
    assert.strictEqual(ctx('\nx').lineAbove, '');
    assert.strictEqual(ctx('x').lineAbove, undefined);
  });
});

describe('degenerate.ts helpers', () => {
  it('bracketBalance ignores brackets in strings', () => {
    assert.deepStrictEqual(['f(a, [b]', 'x = ")"', "g('(', h(", ''].map(bracketBalance), [1, 0, 2, 0]);
  });
  it('echoStart is the completion length when nothing is echoed', () => {
    assert.strictEqual(echoStart('abc', 'f(', ''), 3);
    assert.strictEqual(echoStart('abc', 'f(', ')'), 3);
    assert.strictEqual(echoStart('abc)', 'f(', ')'), 3);
  });
  it('mayRepeat: closers and punctuation-only lines, not statements', () => {
    assert.deepStrictEqual(['  }', '});', 'end', '---', 'pass', 'x = 1'].map(mayRepeat), [true, true, true, true, false, false]);
  });
});

describe('where a block starts (latency policy)', () => {
  const starts = (prefix: string, suffix = '') => startsBlock(policyContext(prefix, suffix, 8));
  it('at the end of an opening line, on the line after it, on an empty deeper line', () => {
    assert.deepStrictEqual([starts('def f(x):'), starts('def f(x):\n    '), starts('def f(x):\n    y ='), starts('if (a) {\n  '),
      starts('x = 1\n    ')], [true, true, true, true, true]);
  });
  it('not mid-statement, not mid-line, not on an empty line at the same depth', () => {
    assert.deepStrictEqual([starts('    x = 1\n    y ='), starts('def f(x):', ' # c'), starts('    x = 1\n    '), starts('return')],
      [false, false, false, false]);
  });
  it('an empty first line does not count against maxLines', () => {
    assert.strictEqual(applyPolicy('\n    y = 1\n    z = 2', policyContext('    x = 1', '', 1)).text, '\n    y = 1');
  });
});
