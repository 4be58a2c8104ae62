// KvCache: rows land at positions P..P+S-1 of every head, growth keeps them, truncation keeps the prefix.
import * as assert from 'node:assert';
import { KvCache, MIN_CAPACITY } from '../../../extension/engine/kvcache';

/** new_key-shaped [L, KVH, S, D] block whose value encodes (layer, head, position, dim) so placement is checkable. */
function block(L: number, KVH: number, S: number, D: number, firstPos: number, sign = 1): Float32Array {
  const a = new Float32Array(L * KVH * S * D);
  for (let l = 0; l < L; l++) for (let h = 0; h < KVH; h++) for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) {
    a[((l * KVH + h) * S + s) * D + d] = sign * (l * 1e6 + h * 1e4 + (firstPos + s) * 10 + d);
  }
  return a;
}

function at(c: KvCache, buf: Float32Array[], l: number, h: number, p: number, d: number): number {
  return buf[l][(h * c.capacity + p) * c.headDim + d];
}

describe('engine/kvcache', () => {
  it('writes new rows at P..P+S-1 for keys and values', () => {
    const c = new KvCache(2, 3, 4);
    c.append(block(2, 3, 5, 4, 0), block(2, 3, 5, 4, 0, -1), 5);
    c.append(block(2, 3, 1, 4, 5), block(2, 3, 1, 4, 5, -1), 1);
    assert.strictEqual(c.length, 6);
    for (const [l, h, p, d] of [[0, 0, 0, 0], [1, 2, 5, 3], [1, 1, 3, 2]]) {
      assert.strictEqual(at(c, c.keys, l, h, p, d), l * 1e6 + h * 1e4 + p * 10 + d);
      assert.strictEqual(at(c, c.values, l, h, p, d), -(l * 1e6 + h * 1e4 + p * 10 + d));
    }
  });

  it('grows with bounded headroom in MIN_CAPACITY steps and keeps every valid row', () => {
    assert.strictEqual(KvCache.capacityFor(1), MIN_CAPACITY);
    assert.strictEqual(KvCache.capacityFor(MIN_CAPACITY + 1), 2 * MIN_CAPACITY);
    for (const n of [100, 1000, 1081, 4000]) {
      const cap = KvCache.capacityFor(n);
      assert.ok(cap >= n && cap <= n * 1.25 + MIN_CAPACITY && cap % MIN_CAPACITY === 0, `capacity ${cap} for ${n}`);
    }
    const c = new KvCache(1, 2, 2);
    c.append(block(1, 2, 60, 2, 0), block(1, 2, 60, 2, 0), 60);
    c.append(block(1, 2, 10, 2, 60), block(1, 2, 10, 2, 60), 10);
    assert.strictEqual(c.capacity, 128);
    for (let p = 0; p < 70; p++) assert.strictEqual(at(c, c.keys, 0, 1, p, 1), 1e4 + p * 10 + 1, `position ${p}`);
  });

  it('truncates to a prefix and overwrites from there', () => {
    const c = new KvCache(1, 1, 2);
    c.append(block(1, 1, 8, 2, 0), block(1, 1, 8, 2, 0), 8);
    c.truncate(3);
    c.append(block(1, 1, 1, 2, 100), block(1, 1, 1, 2, 100), 1);
    assert.strictEqual(c.length, 4);
    assert.strictEqual(at(c, c.keys, 0, 0, 2, 0), 20);
    assert.strictEqual(at(c, c.keys, 0, 0, 3, 0), 1000);
    assert.throws(() => c.truncate(5), /cannot truncate to 5/);
  });

  it('rejects new rows of the wrong size with a message naming the shapes', () => {
    const c = new KvCache(2, 1, 4);
    assert.throws(() => c.append(new Float32Array(7), new Float32Array(7), 1), /expected L\*KVH\*S\*D/);
  });
});
