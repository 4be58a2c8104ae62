// Completion cache: exact hits, typing into a suggestion, per-document and per-context keys, LRU eviction.
import * as assert from 'node:assert';
import { CompletionCache } from '../../../extension/completion/cache';

describe('completion cache', () => {
  it('serves the rest of a suggestion the user is typing into', () => {
    const c = new CompletionCache();
    c.put('a.py', 'def f(x):\n    ', 'return x * 2');
    assert.strictEqual(c.get('a.py', 'def f(x):\n    '), 'return x * 2');
    assert.strictEqual(c.get('a.py', 'def f(x):\n    ret'), 'urn x * 2');
    assert.strictEqual(c.get('a.py', 'def f(x):\n    return x * 2'), undefined, 'fully typed: nothing left');
    assert.strictEqual(c.get('a.py', 'def f(x):\n    rex'), undefined, 'diverged from the suggestion');
  });

  it('separates documents and contexts (threshold, model)', () => {
    const c = new CompletionCache();
    c.put('a.py', 'x = ', '1', 't=0.5');
    assert.strictEqual(c.get('b.py', 'x = ', 't=0.5'), undefined);
    assert.strictEqual(c.get('a.py', 'x = ', 't=0'), undefined);
    assert.strictEqual(c.get('a.py', 'x = ', 't=0.5'), '1');
    c.forget('a.py');
    assert.strictEqual(c.get('a.py', 'x = ', 't=0.5'), undefined);
  });

  it('evicts the least recently used entry', () => {
    const c = new CompletionCache(2);
    c.put('d', 'a', '1'); c.put('d', 'b', '2');
    assert.strictEqual(c.get('d', 'a'), '1');     // touch a
    c.put('d', 'c', '3');                          // evicts b
    assert.strictEqual(c.get('d', 'b'), undefined);
    assert.strictEqual(c.get('d', 'a'), '1');
    assert.strictEqual(c.size, 2);
  });

  it('does not store empty suggestions', () => {
    const c = new CompletionCache();
    c.put('d', 'a', '');
    assert.strictEqual(c.size, 0);
  });
});
