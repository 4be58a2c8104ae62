// The completion pipeline with a scripted engine: debounce, cancellation reaching the engine, a burst of requests
// returning nothing stale, cache hits without the engine, early stop by the multi-line policy, errors.
import * as assert from 'node:assert';
import { CompletionPipeline, FIRST_TEXT_MS, type EditorRequest } from '../../../extension/completion/pipeline';
import { DEFAULTS, type SkipgptSettings } from '../../../extension/completion/settings';
import { FakeEngine } from './fakeEngine';

const req = (prefix: string, suffix = '', manual = false): EditorRequest => ({ doc: 'file:///a.py', prefix, suffix, languageId: 'python', manual });

function setup(engine: FakeEngine | undefined, over: Partial<SkipgptSettings> = {}) {
  const settings = { ...DEFAULTS, debounceMs: 20, ...over };
  const generating: boolean[] = [];
  const p = new CompletionPipeline({ engine: () => engine, settings: () => settings,
    model: () => ({ specialTokens: ['<filename>', '<|endoftext|>'], thresholdDefault: 0.5 }), onGenerating: (g) => generating.push(g) });
  return { p, settings, generating };
}

describe('completion pipeline', () => {
  it('asks the engine with the text, budget, threshold and stops, and returns the post-processed text', async () => {
    const e = new FakeEngine(() => [' 1', '\n', 'y', ' = 2']);
    const { p, generating } = setup(e, { threshold: 0.6, promptTokens: 300 });
    const out = await p.provide({ ...req('x =', '', true), suffix: '\nz = 3', filename: 'a.py' }, new AbortController().signal);
    assert.strictEqual(out.source, 'model');
    assert.strictEqual(out.text, ' 1\ny = 2', 'an explicit request gets the whole suggestion');
    // The engine builds and budgets the prompt with the model's tokenizer: the host sends the text as it is.
    assert.deepStrictEqual([e.requests[0].prefix, e.requests[0].suffix, e.requests[0].filename, e.requests[0].budget, e.requests[0].prompt],
      ['x =', '\nz = 3', 'a.py', 300, undefined]);
    assert.strictEqual(e.requests[0].threshold, 0.6);
    assert.strictEqual(e.requests[0].tracePrompt, undefined, 'suggestions do not pay for prompt traces');
    assert.ok(e.requests[0].stop?.includes('<|endoftext|>'));
    assert.strictEqual(e.requests[0].heal, true, 'token healing: the prompt ends at the cursor');
    assert.deepStrictEqual(generating, [true, false]);
  });

  it('passes the speculative-decoding setting to the engine (off by default)', async () => {
    const e = new FakeEngine(() => ['1']);
    await setup(e).p.provide(req('x = '), new AbortController().signal);
    await setup(e, { draftTokens: 4 }).p.provide(req('y = '), new AbortController().signal);
    assert.deepStrictEqual(e.requests.map((r) => r.draftTokens), [0, 4]);
  });

  it('uses the model\'s default threshold (LoadInfo) while the setting is unset', async () => {
    const e = new FakeEngine(() => ['1']);
    await setup(e, { threshold: null }).p.provide(req('x = '), new AbortController().signal);
    assert.strictEqual(e.requests[0].threshold, 0.5);
  });

  it('uses threshold 0 in dense mode', async () => {
    const e = new FakeEngine(() => ['1']);
    const { p } = setup(e, { denseMode: true, threshold: 0.7 });
    await p.provide(req('x = '), new AbortController().signal);
    assert.strictEqual(e.requests[0].threshold, 0);
  });

  it('serves a repeat and a typed-into suggestion from the cache without the engine', async () => {
    const e = new FakeEngine(() => ['return', ' x', ' * 2']);
    const { p } = setup(e);
    await p.provide(req('def f(x):\n    '), new AbortController().signal);
    const again = await p.provide(req('def f(x):\n    ret'), new AbortController().signal);
    assert.deepStrictEqual([again.source, again.text], ['cache', 'urn x * 2']);
    assert.strictEqual(e.requests.length, 1);
  });

  it('cancelled during the debounce: the engine is never asked', async () => {
    const e = new FakeEngine(() => ['1']);
    const { p } = setup(e, { debounceMs: 50 });
    const ac = new AbortController();
    const pending = p.provide(req('x = '), ac.signal);
    setTimeout(() => ac.abort(), 10);
    const out = await pending;
    assert.strictEqual(out.text, undefined);
    assert.strictEqual(e.requests.length, 0);
  });

  it('cancellation reaches the engine mid-generation and nothing is returned', async () => {
    const e = new FakeEngine(() => Array.from({ length: 30 }, () => 'a'), 10);
    const { p } = setup(e, { debounceMs: 0 });
    const ac = new AbortController();
    const pending = p.provide(req('x = '), ac.signal);
    setTimeout(() => ac.abort(), 35);
    const out = await pending;
    assert.deepStrictEqual([out.text, out.reason], [undefined, 'cancelled']);
    assert.strictEqual(e.aborted, 1);
    assert.deepStrictEqual(e.recorded, [false], 'a cancelled run is not shown as the latest trace');
  });

  it('a burst of keystrokes: only the latest request yields a suggestion, earlier generations are aborted', async () => {
    const e = new FakeEngine((r) => [`<${r.prefix}>`, ' more', ' text'], 8);
    const { p } = setup(e, { debounceMs: 5 });
    const prefixes = ['a', 'ab', 'abc', 'abcd', 'abcde'];
    const outs = await Promise.all(prefixes.map((x, i) => new Promise((r) => setTimeout(r, i * 12))
      .then(() => p.provide(req(x), new AbortController().signal))));
    const shown = outs.filter((o) => o.text !== undefined);
    assert.strictEqual(shown.length, 1);
    assert.strictEqual(shown[0].text, '<abcde> more text');
    for (const o of outs.slice(0, -1)) assert.ok(['superseded', 'cancelled'].includes(o.reason ?? ''), String(o.reason));
  });

  it('stops the engine early once the multi-line policy has its answer', async () => {
    const e = new FakeEngine(() => ['\n', '    return x', '\n', '\n', 'def', ' g', '():', ' pass', ' more'], 3);
    const { p } = setup(e, { debounceMs: 0 });
    const out = await p.provide(req('def f(x):', '', true), new AbortController().signal);
    assert.strictEqual(out.text, '\n    return x');
    assert.strictEqual(e.aborted, 1, 'engine aborted by the policy');
    assert.deepStrictEqual(e.recorded, [true], 'a run stopped by the policy is still the latest trace');
    assert.ok((out.result?.tokens.length ?? 99) <= 5, `tokens generated: ${out.result?.tokens.length}`);
  });

  describe('latency policy', () => {
    it('while typing, a suggestion is one line and the engine stops when that line is complete', async () => {
      const e = new FakeEngine(() => [' 1', '\n', 'y', ' = 2', '\n', 'w = 4']);
      const { p } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('x ='), new AbortController().signal);
      assert.deepStrictEqual([out.source, out.text, await out.refined], ['model', ' 1', false]);
      assert.strictEqual(e.aborted, 1, 'the engine stopped after the first line');
      // That one line is cached for typing through, but an explicit request wants the whole suggestion.
      assert.deepStrictEqual([(await p.provide(req('x = '), new AbortController().signal)).text], ['1']);
      const whole = await p.provide(req('x =', '', true), new AbortController().signal);
      assert.deepStrictEqual([whole.source, whole.text, e.requests.length], ['model', ' 1\ny = 2\nw = 4', 2]);
    });

    it('where a block starts, the first line comes at once and the whole block follows into the cache', async () => {
      const e = new FakeEngine(() => ['y = x', '\n', '    z = y', '\n', '    return z'], 15);
      const { p, generating } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('def f(x):\n    '), new AbortController().signal);
      assert.deepStrictEqual([out.source, out.text], ['model', 'y = x']);
      assert.strictEqual(e.finished, 0, 'shown before the engine finished');
      assert.strictEqual(await out.refined, true);
      assert.deepStrictEqual(generating, [true, false]);
      const again = await p.provide(req('def f(x):\n    '), new AbortController().signal);
      assert.deepStrictEqual([again.source, again.text, e.requests.length], ['cache', 'y = x\n    z = y\n    return z', 1]);
    });

    it('a line not finished after FIRST_TEXT_MS is shown as far as it goes, then completed into the cache', async () => {
      const e = new FakeEngine(() => ['a', ' +', ' b', ' + c', '\n', 'y = 1'], FIRST_TEXT_MS / 2 + 20);
      const { p } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('    x = '), new AbortController().signal);
      assert.deepStrictEqual([out.text, e.finished], ['a +', 0]);
      assert.strictEqual(await out.refined, true);
      const again = await p.provide(req('    x = '), new AbortController().signal);
      assert.deepStrictEqual([again.source, again.text], ['cache', 'a + b + c']);
    });

    it('past the time cap, a block\'s bare newline and indentation are not shown: its first code is', async () => {
      const e = new FakeEngine(() => ['\n', '    y', ' = x', '\n', '    return y'], FIRST_TEXT_MS + 20);
      const { p } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('def f(x):'), new AbortController().signal);
      assert.deepStrictEqual([out.text, e.finished], ['\n    y', 0]);
      assert.strictEqual(await out.refined, true);
    });

    it('the debounce counts from the keystroke', async () => {
      const e = new FakeEngine(() => ['1']);
      const { p } = setup(e, { debounceMs: 400 });
      const t0 = Date.now();
      await p.provide({ ...req('x = '), typedAt: Date.now() - 350 }, new AbortController().signal);
      assert.ok(Date.now() - t0 < 300, `waited ${Date.now() - t0} ms of a 400 ms debounce typed 350 ms ago`);
    });

    it('VS Code asking again for the same text while a block is completed does not stop it', async () => {
      const e = new FakeEngine(() => ['y = x', '\n', '    z = y', '\n', '    return z'], 15);
      const { p } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('def f(x):\n    '), new AbortController().signal);
      const again = await p.provide(req('def f(x):\n    '), new AbortController().signal);
      assert.deepStrictEqual([again.source, again.text], ['cache', 'y = x']);
      assert.strictEqual(await out.refined, true);
      assert.deepStrictEqual([e.aborted, e.requests.length], [0, 1]);
      assert.strictEqual((await p.provide(req('def f(x):\n    '), new AbortController().signal)).text, 'y = x\n    z = y\n    return z');
    });

    it('typing while the rest of a block is generated stops it', async () => {
      const e = new FakeEngine(() => ['y = x', '\n', '    z = y', '\n', '    return z'], 15);
      const { p } = setup(e, { debounceMs: 0 });
      const out = await p.provide(req('def f(x):\n    '), new AbortController().signal);
      const typed = await p.provide(req('def f(x):\n    y'), new AbortController().signal);
      assert.deepStrictEqual([typed.source, typed.text], ['cache', ' = x'], 'typing through the first line: from the cache');
      assert.strictEqual(await out.refined, false);
      assert.strictEqual(e.aborted, 1);
    });
  });

  it('reports no engine and engine errors instead of throwing', async () => {
    const none = setup(undefined, { debounceMs: 0 });
    assert.strictEqual((await none.p.provide(req('x'), new AbortController().signal)).reason, 'no-engine');
    const bad = setup(new FakeEngine(() => [], 1, 'worker crashed'), { debounceMs: 0 });
    const out = await bad.p.provide(req('x'), new AbortController().signal);
    assert.deepStrictEqual([out.text, out.reason], [undefined, 'worker crashed']);
  });

  it('returns nothing for an empty or whitespace completion', async () => {
    const { p } = setup(new FakeEngine(() => ['  ', '\n']), { debounceMs: 0 });
    const out = await p.provide(req('x = 1\n'), new AbortController().signal);
    assert.deepStrictEqual([out.text, out.reason], [undefined, 'empty']);
  });

  describe('cache priming', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `x${i} = ${i}`).join('\n') + '\n';

    it('reads the prompt a suggestion would use, in the background, and shows or caches nothing', async () => {
      const e = new FakeEngine(() => ['y']);
      const results: unknown[] = [];
      const settings = { ...DEFAULTS, debounceMs: 0, promptTokens: 64 };
      const p = new CompletionPipeline({ engine: () => e, settings: () => settings, model: () => ({ specialTokens: ['<filename>'] }),
        onResult: (o) => results.push(o) });
      const at = { ...req(lines), filename: 'a.py' };
      assert.strictEqual(await p.prime(at, new AbortController().signal), 'primed');
      assert.deepStrictEqual([e.requests[0].maxTokens, e.options[0].background, e.options[0].record], [1, true, false]);
      assert.strictEqual(e.requests[0].heal, true, 'primes the healed prompt the suggestion will reuse');
      assert.deepStrictEqual([results.length, p.cache.size], [0, 0]);
      await p.provide(at, new AbortController().signal);
      // Same text, file and budget: the engine picks the same prompt window, so the suggestion reuses the primed cache.
      const { maxTokens: m0, ...primed } = e.requests[0];
      const { maxTokens: m1, ...asked } = e.requests[1];
      assert.deepStrictEqual([m0, m1, asked], [1, settings.maxTokens, primed]);
      assert.deepStrictEqual([asked.filename, asked.budget], ['a.py', 64]);
    });

    it('a suggestion request aborts a running prime and runs at once', async () => {
      const e = new FakeEngine(() => ['y'], 40);
      const { p } = setup(e, { debounceMs: 0 });
      const priming = p.prime(req(lines), new AbortController().signal);
      await new Promise((r) => setTimeout(r, 5));
      const out = await p.provide(req(lines), new AbortController().signal);
      assert.strictEqual(await priming, 'superseded');
      assert.strictEqual(out.text, 'y');
      assert.deepStrictEqual([e.requests.length, e.aborted], [2, 1]);
    });

    it('never interrupts a suggestion in flight, and stops when its own signal aborts', async () => {
      const e = new FakeEngine(() => ['a', 'b', 'c'], 20);
      const { p } = setup(e, { debounceMs: 0 });
      const suggesting = p.provide(req('x = '), new AbortController().signal);
      await new Promise((r) => setTimeout(r, 5));
      assert.strictEqual(await p.prime(req(lines), new AbortController().signal), 'busy');
      assert.strictEqual((await suggesting).text, 'abc');
      assert.strictEqual(e.requests.length, 1);
      const ac = new AbortController();
      const priming = p.prime(req(lines), ac.signal);
      ac.abort();
      assert.strictEqual(await priming, 'cancelled');
    });

    it('says so when there is no engine or the engine fails', async () => {
      assert.strictEqual(await setup(undefined).p.prime(req('x'), new AbortController().signal), 'no-engine');
      const bad = setup(new FakeEngine(() => [], 1, 'worker crashed'));
      assert.strictEqual(await bad.p.prime(req('x'), new AbortController().signal), 'failed');
    });
  });
});
