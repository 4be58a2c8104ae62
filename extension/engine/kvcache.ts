// JS-owned KV cache: one Float32Array K and V per layer, laid out [KVH, C, D] (C = capacity), fed to the graph
// as `past_key.{l}` / `past_value.{l}` inputs. Inputs are zero-copy in onnxruntime-node while fetched outputs
// are copied, so the cache is never an output: only the new rows (`new_key`/`new_value`) come back and are
// written here at positions P..P+S-1 (docs/ARCHITECTURE.md section 2).

export const MIN_CAPACITY = 64;
const GROWTH = 1.25;

export class KvCache {
  /** Number of valid positions (P). Rows >= length are garbage the graph masks out. */
  length = 0;
  capacity = 0;
  keys: Float32Array[] = [];
  values: Float32Array[] = [];

  constructor(readonly layers: number, readonly kvHeads: number, readonly headDim: number, capacity = MIN_CAPACITY) {
    this.allocate(Math.max(MIN_CAPACITY, capacity));
  }

  /**
   * Capacity to hold `needed` positions: 25% headroom rounded up to MIN_CAPACITY. The graph's attention reads every
   * cache row (masked past `length`), so spare capacity is paid on every step: at a ~1,000-token context a step
   * took 22.8 ms with the 2,048 rows doubling gives against 14.0 ms with 1,088 rows (docs/BENCHMARKS.md §0).
   * Growth is still geometric (x1.25), so copies stay O(total).
   */
  static capacityFor(needed: number): number {
    return Math.max(MIN_CAPACITY, Math.ceil((needed * GROWTH) / MIN_CAPACITY) * MIN_CAPACITY);
  }

  /** Make room for `needed` positions, copying the valid rows of each head into the larger buffers. */
  ensure(needed: number): void {
    if (needed <= this.capacity) return;
    const oldK = this.keys, oldV = this.values, oldC = this.capacity;
    this.allocate(KvCache.capacityFor(needed));
    const rows = this.length * this.headDim;
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.kvHeads; h++) {
        const from = h * oldC * this.headDim, to = h * this.capacity * this.headDim;
        this.keys[l].set(oldK[l].subarray(from, from + rows), to);
        this.values[l].set(oldV[l].subarray(from, from + rows), to);
      }
    }
  }

  /**
   * Write the S new rows of every layer (newKey/newValue laid out [L, KVH, S, D]) at positions
   * length..length+S-1 and advance length. Grows the buffers first when needed.
   */
  append(newKey: Float32Array, newValue: Float32Array, s: number): void {
    const { layers: L, kvHeads: KVH, headDim: D } = this;
    if (newKey.length !== L * KVH * s * D || newValue.length !== newKey.length) {
      throw new Error(`KV cache: new_key/new_value have ${newKey.length}/${newValue.length} floats, ` +
        `expected L*KVH*S*D = ${L}*${KVH}*${s}*${D} = ${L * KVH * s * D} (model and manifest disagree?)`);
    }
    this.ensure(this.length + s);
    const C = this.capacity, P = this.length, n = s * D;
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < KVH; h++) {
        const src = (l * KVH + h) * n, dst = (h * C + P) * D;
        this.keys[l].set(newKey.subarray(src, src + n), dst);
        this.values[l].set(newValue.subarray(src, src + n), dst);
      }
    }
    this.length = P + s;
  }

  /** Keep only the first `length` positions (prefix reuse); later rows become masked garbage. */
  truncate(length: number): void {
    if (length < 0 || length > this.length) {
      throw new Error(`KV cache: cannot truncate to ${length}, it holds ${this.length} positions`);
    }
    this.length = length;
  }

  /** Bytes held by the buffers (for diagnostics). */
  get bytes(): number {
    return 2 * this.layers * this.kvHeads * this.capacity * this.headDim * 4;
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    const size = this.kvHeads * capacity * this.headDim;
    // One allocation for all layers (views per layer): past ~32 MiB it is its own mmap, returned to the OS when a
    // grown cache replaces it. 60 separate ~1 MiB buffers were left in the malloc heap instead (+38 MiB RSS after a
    // 1,000-token prompt, measured).
    const all = new ArrayBuffer(2 * this.layers * size * Float32Array.BYTES_PER_ELEMENT);
    const view = (i: number) => new Float32Array(all, i * size * Float32Array.BYTES_PER_ELEMENT, size);
    this.keys = Array.from({ length: this.layers }, (_, l) => view(2 * l));
    this.values = Array.from({ length: this.layers }, (_, l) => view(2 * l + 1));
  }
}
