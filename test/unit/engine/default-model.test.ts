// The default model (models/smollm2-135m-skip25, built by `npm run model`): dense greedy tokens through the engine
// equal PyTorch's in its parity.json. Skipped, saying why, when the model has not been built.
import * as assert from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Generator } from '../../../extension/engine/generate';
import { ModelRunner } from '../../../extension/engine/runner';
import { readParity, repoRoot } from './fixture';

const dir = process.env.SKIPGPT_DEFAULT_MODEL ?? join(repoRoot, 'models', 'smollm2-135m-skip25');

describe(`default model parity (${dir})`, function () {
  this.timeout(240_000);
  let runner: ModelRunner | undefined;

  before(async function () {
    if (!existsSync(join(dir, 'manifest.json'))) {
      console.log(`    (skipped: ${dir} not built; run \`npm run model\` first)`);
      this.skip();
    }
    runner = await ModelRunner.load(dir, { executionProvider: 'cpu', threads: 2 });
  });
  after(async () => { await runner?.dispose(); });

  it('tokenizer: same ids as the Python toolkit on its tokenizer cases, exact round trip', () => {
    const parity = readParity(dir);
    assert.ok(parity.tokenizer_cases.length > 0);
    for (const c of parity.tokenizer_cases) {
      assert.deepStrictEqual(runner!.tokenizer.encode(c.text), c.ids, JSON.stringify(c.text));
      assert.strictEqual(runner!.tokenizer.decode(c.ids), c.text);
    }
  });

  it('prefill logits and router probabilities within the parity tolerance (every case)', async () => {
    const parity = readParity(dir);
    const V = runner!.vocab;
    for (const c of parity.cases) {
      runner!.cache.truncate(0);
      const S = c.prompt_ids.length, n = c.logits_vocab;
      const r = await runner!.step(c.prompt_ids, c.threshold, S);
      let err = 0, perr = 0;
      for (let s = 0; s < S; s++) for (let v = 0; v < n; v++) err = Math.max(err, Math.abs(r.logits[s * V + v] - c.logits[s][v]));
      const ref = c.router_probs.flat(2);
      for (let i = 0; i < ref.length; i++) perr = Math.max(perr, Math.abs(r.routerProbs[i] - ref[i]));
      assert.ok(err <= parity.tolerance.logits_abs, `${c.name}: logits err ${err}`);
      assert.ok(perr <= parity.tolerance.router_probs_abs, `${c.name}: router_probs err ${perr}`);
    }
  });

  it('greedy tokens in dense mode (threshold 0) equal PyTorch (at least 32 where the parity file has them)', async () => {
    const parity = readParity(dir);
    const dense = parity.cases.filter((c) => c.threshold === 0);
    assert.ok(dense.length > 0, 'parity.json has a dense case');
    const gen = new Generator(runner!);
    for (const c of dense) {
      gen.reset();
      const r = await gen.complete({ ids: c.prompt_ids, threshold: 0, maxTokens: c.greedy.ids.length });
      const ids = r.tokens.map((t) => t.id);
      assert.deepStrictEqual(ids, c.greedy.ids.slice(0, ids.length), c.name);
      if (r.finishReason !== 'eos') assert.strictEqual(ids.length, c.greedy.ids.length);
    }
  });

  it('routed cases: same decisions on the prompt and same greedy tokens', async () => {
    const parity = readParity(dir);
    const gen = new Generator(runner!);
    for (const c of parity.cases.filter((x) => x.threshold > 0)) {
      // A decision may legitimately flip where PyTorch's p sits within float noise of the threshold (MANIFEST.md).
      if (c.min_prob_margin !== null && c.min_prob_margin < parity.tolerance.router_probs_abs) {
        console.log(`    (${c.name}: margin ${c.min_prob_margin} below the tolerance, exact decisions not required)`);
        continue;
      }
      gen.reset();
      const r = await gen.complete({ ids: c.prompt_ids, threshold: c.threshold, maxTokens: c.greedy.ids.length, tracePrompt: true });
      const flips = r.prompt!.reduce((n, t, s) => n + c.decisions[s].reduce((m, d, l) =>
        m + (d[0] !== t.attn[l] ? 1 : 0) + (d[1] !== t.mlp[l] ? 1 : 0), 0), 0);
      assert.strictEqual(flips, 0, `${c.name}: ${flips} decisions differ from PyTorch`);
      const ids = r.tokens.map((t) => t.id);
      assert.deepStrictEqual(ids, c.greedy.ids.slice(0, ids.length), c.name);
    }
  });
  it('prompt lookup on repetitive code: drafts are accepted and the tokens equal plain greedy decoding', async () => {
    const names = ['one', 'two', 'three', 'four', 'five', 'six'];
    const code = names.map((n, i) => `def add_${n}(x):\n    return x + ${i + 1}\n\n`).join('') + 'def add_seven(x):\n';
    const gen = new Generator(runner!);
    for (const threshold of [0, 0.5]) {
      gen.reset();
      const plain = await gen.complete({ prompt: code, threshold, maxTokens: 24 });
      gen.reset();
      const spec = await gen.complete({ prompt: code, threshold, maxTokens: 24, draftTokens: 4 });
      assert.deepStrictEqual(spec.tokens.map((t) => t.id), plain.tokens.map((t) => t.id), `threshold ${threshold}: ${JSON.stringify(plain.text)}`);
      assert.ok(spec.timings.acceptedTokens > 0, `threshold ${threshold}: ${JSON.stringify(spec.timings)}`);
    }
  });
});
