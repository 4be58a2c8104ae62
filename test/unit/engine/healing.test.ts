// Token healing: the vocabulary index, the plan (which prompt tokens the cursor splits), the healer's mask and strip,
// and the Generator with `heal` on the tiny fixture and, when built, on the default 8-bit model with SmolLM2's real
// tokenizer (mid-word, after auto-indent, at column 0).
import * as assert from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Generator } from '../../../extension/engine/generate';
import { addedTokenIds, Healer, HealVocab, healVocabFor, planHealing } from '../../../extension/engine/healing';
import type { CompleteResult } from '../../../extension/engine/protocol';
import { ModelRunner } from '../../../extension/engine/runner';
import { TextTokenizer } from '../../../extension/engine/tokenizer';
import { repoRoot, tinyDir } from './fixture';

describe('HealVocab and Healer (hand-made vocabulary)', () => {
  //                          0     1      2       3        4     5          6
  const vocab = new HealVocab(['a', ' r', ' re', ' ret', ' return', 'rn', undefined, '\n', '\n   ', ' ', '\n    ']);

  it('finds the tokens starting with a text and the tokens that are a prefix of it', () => {
    assert.deepStrictEqual([...vocab.startingWith(' re')].sort(), [2, 3, 4]);
    assert.deepStrictEqual(vocab.consistent(' ret').sort((a, b) => a - b), [1, 2, 3, 4, 9]);
    assert.deepStrictEqual(vocab.consistent('\n    ').sort((a, b) => a - b), [7, 8, 10]);
    assert.deepStrictEqual(vocab.consistent('zzz'), []);
  });

  it('masks what cannot produce the owed text, carries the rest over, then stops constraining', () => {
    const h = new Healer(vocab, { keep: 3, tokens: 1, removed: '\n    ' });
    const logits = Float32Array.from({ length: 11 }, (_, i) => i);   // id 10 is the best overall
    const m1 = h.mask(logits);
    assert.deepStrictEqual([...m1].map((x, i) => (x === -Infinity ? -1 : i)).filter((i) => i >= 0), [7, 8, 10]);
    h.accept(8);                                                        // "\n   ": one space still owed
    assert.ok(h.active);
    const m2 = h.mask(logits);
    assert.deepStrictEqual([...m2].map((x, i) => (x === -Infinity ? -1 : i)).filter((i) => i >= 0), [1, 2, 3, 4, 9]);
    h.accept(4);                                                        // " return"
    assert.ok(!h.active);
    assert.strictEqual(h.mask(logits), logits, 'no copy once healed');
    assert.deepStrictEqual([h.strip('\n   '), h.strip(' return'), h.strip(' x')], ['', 'return', ' x']);
  });
});

describe('planHealing (tiny fixture tokenizer)', () => {
  const tok = TextTokenizer.fromFile(join(tinyDir, 'tokenizer.json'));
  const vocab = new HealVocab(Array.from({ length: 384 }, (_, id) => {
    const t = tok.decode([id]);
    return addedTokenIds(join(tinyDir, 'tokenizer.json')).includes(id) || t.includes('\uFFFD') ? undefined : t;
  }));
  const plan = (text: string) => planHealing(tok.encode(text), tok, vocab);

  it('backs up a partial word, trailing indentation and a bare newline', () => {
    assert.strictEqual(plan('x = sel')?.removed, ' sel');              // " self" is a token
    assert.strictEqual(plan('def f(x):\n    ')?.removed, '\n    ');    // "\n       " is a token
    assert.strictEqual(plan('def f(x):\n')?.removed, '\n');
  });

  it('keeps at least one token and never crosses a special token', () => {
    const ids = tok.encode(' sel');
    assert.strictEqual(planHealing(ids, tok, vocab), undefined, 'a one-token prompt stays');
    const special = [tok.tokenId('<filename>')!, ...tok.encode(' sel')];
    assert.deepStrictEqual(planHealing(special, tok, vocab), { keep: 1, tokens: 1, removed: ' sel' });
  });

  it('addedTokenIds reads tokenizer.json, and a missing file means none', () => {
    assert.ok(addedTokenIds(join(tinyDir, 'tokenizer.json')).includes(0));
    assert.deepStrictEqual(addedTokenIds('/nonexistent/tokenizer.json'), []);
  });
});

describe('Generator with token healing (tiny fixture)', () => {
  let runner: ModelRunner;
  let gen: Generator;
  before(async () => {
    runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
    gen = new Generator(runner);
  });
  after(async () => { await runner?.dispose(); });

  /** All generated text including the healed part, decoded after the kept prompt. */
  const generated = (r: CompleteResult) => runner.tokenizer.decode([...r.prompt!.map((p) => p.id), ...r.tokens.map((t) => t.id)])
    .slice(runner.tokenizer.decode(r.prompt!.map((p) => p.id)).length);

  for (const text of ['x = sel', 'def f(x):\n    ', 'def f(x):\n']) {
    it(`re-produces the removed text first and emits only what follows it (${JSON.stringify(text)})`, async () => {
      gen.reset();
      const r = await gen.complete({ prefix: text, maxTokens: 8, tracePrompt: true });
      const kept = runner.tokenizer.decode(r.prompt!.map((p) => p.id));
      assert.ok(kept.length < text.length && text.startsWith(kept), `prompt backed up: ${JSON.stringify(kept)}`);
      const removed = text.slice(kept.length);
      const all = generated(r);
      assert.ok(all.startsWith(removed), `generated ${JSON.stringify(all)} starts with ${JSON.stringify(removed)}`);
      assert.strictEqual(r.text, all.slice(removed.length));
      assert.strictEqual(r.tokens.map((t) => t.text).join(''), r.text, 'token texts add up to the completion');
      const backedUp = runner.tokenizer.encode(text).length - r.prompt!.length;
      if (r.finishReason === 'length') assert.strictEqual(r.tokens.length, 8 + backedUp, 're-generating is not charged');
    });
  }

  it('is on by default for prefix requests only, and off with heal: false', async () => {
    const n = runner.tokenizer.encode('x = sel').length;
    gen.reset();
    assert.strictEqual((await gen.complete({ prompt: 'x = sel', maxTokens: 2, tracePrompt: true })).prompt!.length, n);
    gen.reset();
    assert.strictEqual((await gen.complete({ prefix: 'x = sel', heal: false, maxTokens: 2, tracePrompt: true })).prompt!.length, n);
    gen.reset();
    assert.strictEqual((await gen.complete({ prompt: 'x = sel', heal: true, maxTokens: 2, tracePrompt: true })).prompt!.length, n - 1);
    gen.reset();
    assert.strictEqual((await gen.complete({ ids: runner.tokenizer.encode('x = sel'), heal: true, maxTokens: 2, tracePrompt: true })).prompt!.length, n);
  });

  it('keeps prefix reuse: the next keystroke reuses the backed-up prompt', async () => {
    gen.reset();
    const base = 'def f(x):\n    y = x\n    return se';
    await gen.complete({ prefix: base, maxTokens: 4 });
    const r = await gen.complete({ prefix: base + 'l', maxTokens: 4, tracePrompt: true });
    assert.ok(r.timings.reusedTokens >= r.prompt!.length - 1, `reused ${r.timings.reusedTokens} of ${r.prompt!.length}`);
  });

  it('greedy healing picks the best token among those consistent with the removed text', async () => {
    gen.reset();
    const text = 'def f(x):\n    ';
    const healed = await gen.complete({ prefix: text, maxTokens: 1, threshold: 0, tracePrompt: true });
    const vocab = healVocabFor(runner.tokenizer, runner.vocab, () => []);   // built already by the request
    const kept = healed.prompt!.map((p) => p.id);
    const owed = text.slice(runner.tokenizer.decode(kept).length);
    gen.reset();
    const logits = (await runner.step(kept, 0)).logits;
    runner.cache.truncate(0);
    const allowed = vocab.consistent(owed);
    const best = allowed.reduce((a, b) => (logits[b] > logits[a] ? b : a));
    assert.strictEqual(healed.tokens[0].id, best);
    let overall = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[overall]) overall = i;
    assert.ok(allowed.length < runner.vocab / 2, `the mask removes most tokens (${allowed.length} allowed)`);
  });
});

const realDir = process.env.SKIPGPT_DEFAULT_MODEL_INT8 ?? join(repoRoot, 'models', 'smollm2-135m-skip25-int8');

describe(`token healing with SmolLM2's tokenizer and the default model (${realDir})`, function () {
  this.timeout(240_000);
  let runner: ModelRunner | undefined;
  let gen: Generator;
  before(async function () {
    if (!existsSync(join(realDir, 'manifest.json'))) {
      console.log(`    (skipped: ${realDir} not built; run \`npm run model\` first)`);
      this.skip();
    }
    runner = await ModelRunner.load(realDir, { executionProvider: 'cpu', threads: 2 });
    gen = new Generator(runner);
  });
  after(async () => { await runner?.dispose(); });

  const plan = (text: string) => {
    const tok = runner!.tokenizer;
    const vocab = healVocabFor(tok, runner!.vocab, () => addedTokenIds(join(realDir, 'tokenizer.json')));
    return planHealing(tok.encode(text), tok, vocab);
  };

  it('plans: a partial word, the auto-indent after a colon, a bare newline', () => {
    assert.strictEqual(plan('    retu')?.removed, ' retu');               // " ret" + "u" → " return"
    assert.strictEqual(plan('x = sel')?.removed, ' sel');
    assert.strictEqual(plan('def list_files(path):\n    ')?.removed, '\n    ');
    assert.strictEqual(plan('def list_files(path):\n')?.removed, '\n');
  });

  const cases: [string, (text: string) => boolean, string][] = [
    ['import os\n\n\ndef list_files(path):\n    """Return the names of the files in path."""\n    retu',
      (t) => /^rn\b/.test(t), 'completes the word: starts with "rn"'],
    ['import os\n\n\ndef list_files(path):\n    ', (t) => /^\S/.test(t), 'after the auto-indent: no extra space'],
    ['import os\n\n\ndef list_files(path):\n', (t) => /^ {4}\S/.test(t), 'at column 0: the 4-space indentation'],
  ];
  for (const [prefix, ok, what] of cases) {
    it(`${what}`, async () => {
      gen.reset();
      const r = await gen.complete({ prefix, maxTokens: 12, threshold: 0 });
      assert.ok(ok(r.text), `completion ${JSON.stringify(r.text)}`);
      const lastLine = prefix.slice(prefix.lastIndexOf('\n') + 1);
      if (lastLine.trim()) assert.ok(!r.text.startsWith(lastLine.trim()), 'does not repeat the user\'s text');
    });
  }
});
