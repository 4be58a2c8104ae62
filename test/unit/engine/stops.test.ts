// StopFilter: stop text spanning tokens is never emitted; near-misses are released.
import * as assert from 'node:assert';
import { StopFilter } from '../../../extension/engine/stops';

describe('engine/stops', () => {
  it('holds back a possible stop start and cuts before a stop spanning pushes', () => {
    const f = new StopFilter(['\n\n', 'END']);
    assert.strictEqual(f.push('foo('), 'foo(');
    assert.strictEqual(f.push(')\n'), ')');
    assert.strictEqual(f.push('\nbar'), '');
    assert.ok(f.stopped);
    assert.strictEqual(f.emitted, 'foo()');
    assert.strictEqual(f.push('more'), '');
  });

  it('releases held-back text when the stop does not follow, and at flush', () => {
    const f = new StopFilter(['END']);
    assert.strictEqual(f.push('xEN'), 'x');
    assert.strictEqual(f.push('D!'.replace('D', 'd')), 'ENd!');
    assert.strictEqual(f.push('E'), '');
    assert.strictEqual(f.flush(), 'E');
    assert.strictEqual(f.emitted, 'xENd!E');
    assert.ok(!f.stopped);
  });

  it('the earliest stop wins', () => {
    const f = new StopFilter(['b', 'abc']);
    f.push('zabc');
    assert.strictEqual(f.emitted, 'z');
  });

  it('no stops: everything passes through', () => {
    const f = new StopFilter([]);
    assert.strictEqual(f.push('a\n\n'), 'a\n\n');
  });

  it('rejects an empty stop string', () => {
    assert.throws(() => new StopFilter(['']), /non-empty/);
  });
});
