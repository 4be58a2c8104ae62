// Next-token choice from one row of logits: greedy (temperature 0) or temperature + nucleus (top-p) sampling
// with a seeded RNG, so a request with the same seed reproduces its tokens.

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). Quality is ample for sampling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest logit (the first one on ties, as torch.argmax). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export interface SamplingOptions {
  temperature: number;
  topP: number;
}

/**
 * Sample a token id. temperature <= 0 is greedy. Otherwise softmax(logits / T), keep the smallest set of most
 * likely tokens whose mass reaches topP, renormalise, and draw with `rand`.
 */
export function sample(logits: Float32Array, opts: SamplingOptions, rand: () => number): number {
  if (!(opts.temperature > 0)) return argmax(logits);
  if (!(opts.topP > 0 && opts.topP <= 1)) throw new Error(`topP must be in (0, 1], got ${opts.topP}`);
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) { probs[i] = Math.exp((logits[i] - max) / opts.temperature); sum += probs[i]; }
  if (opts.topP >= 1) { // whole distribution: no ordering needed
    let r = rand() * sum;
    for (let i = 0; i < n; i++) { r -= probs[i]; if (r < 0) return i; }
    return argmax(logits);
  }
  const order = nucleusCandidates(probs, opts.topP * sum);
  let kept = 0, mass = 0;
  while (kept < order.length && mass < opts.topP * sum) mass += probs[order[kept++]];
  let r = rand() * mass;
  for (let k = 0; k < kept; k++) {
    r -= probs[order[k]];
    if (r < 0) return order[k];
  }
  return order[kept - 1];
}

/**
 * Ids sorted by probability, most likely first, enough to contain the nucleus of mass `need`. Sorting all V ids
 * cost ~40 ms per token at V = 49k; instead only ids with p >= cut are sorted, lowering the cut until their mass
 * reaches `need` (exact: every id left out is less likely than every id kept).
 */
function nucleusCandidates(probs: Float64Array, need: number): number[] {
  let top = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > top) top = probs[i];
  for (let cut = top * 1e-3; ; cut *= 1e-3) {
    const ids: number[] = [];
    let mass = 0;
    for (let i = 0; i < probs.length; i++) if (probs[i] >= cut) { ids.push(i); mass += probs[i]; }
    if (mass >= need || cut < Number.MIN_VALUE || ids.length === probs.length) {
      return ids.sort((a, b) => probs[b] - probs[a]);
    }
  }
}
