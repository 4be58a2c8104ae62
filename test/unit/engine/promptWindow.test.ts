// The prompt of an editor request, built in the engine with the model's tokenizer: the budget holds (header
// included), the start is a line start that stays put while the user types (so the Generator reuses the cache), a
// new start leaves WINDOW_SLACK of the budget free, an over-long cursor line keeps its end; and the contract around
// it: prompt traces only when asked, each token crosses the process boundary once, LoadInfo carries what the host
// needs, the client cuts a huge prefix before sending it.
import * as assert from 'node:assert';
import { EngineClient } from '../../../extension/engine/client';
import { Generator } from '../../../extension/engine/generate';
import { PromptWindowPlanner, WINDOW_SLACK } from '../../../extension/engine/promptWindow';
import type { TokenTrace } from '../../../extension/engine/protocol';
import { ModelRunner } from '../../../extension/engine/runner';
import { TextTokenizer } from '../../../extension/engine/tokenizer';
import { enginePath, tinyDir } from './fixture';

const tok = TextTokenizer.fromFile(`${tinyDir}/tokenizer.json`);
const lines = Array.from({ length: 120 }, (_, i) => `value_${i} = compute(${i}, "x")`);
const file = lines.join('\n') + '\n';

describe('prompt window (engine-side budget)', () => {
  it('keeps the whole prefix when it fits, with the <filename> header', () => {
    const w = new PromptWindowPlanner(tok, true).plan('x = 1\ny = ', 'src/a.py', 100);
    assert.strictEqual(w.start, 0);
    assert.strictEqual(w.header, '<filename>src/a.py\n');
    assert.deepStrictEqual(w.ids, tok.encode('<filename>src/a.py\nx = 1\ny = '));
    assert.strictEqual(new PromptWindowPlanner(tok, false).plan('x', 'a.py', 10).header, '', 'no header without the token');
  });

  it('cuts at a line start within the budget counted with the real tokenizer, leaving slack', () => {
    const budget = 200;
    const w = new PromptWindowPlanner(tok, true).plan(file, 'a.py', budget);
    assert.ok(w.start > 0 && file[w.start - 1] === '\n', `starts at a line start (${w.start})`);
    assert.deepStrictEqual(w.ids, tok.encode(w.header + file.slice(w.start)));
    assert.ok(w.ids.length <= budget * (1 - WINDOW_SLACK), `${w.ids.length} tokens`);
    // The earliest such line: one more line would not fit the target.
    const earlier = file.lastIndexOf('\n', w.start - 2) + 1;
    assert.ok(tok.encode(w.header + file.slice(earlier)).length > budget * (1 - WINDOW_SLACK));
  });

  it('keeps the same start while the user types, until the budget is full; then cuts again', () => {
    const budget = 200;
    const p = new PromptWindowPlanner(tok, true);
    const first = p.plan(file, 'a.py', budget);
    let text = file, starts = new Set<number>(), recut = -1;
    for (let i = 0; i < 60 && recut < 0; i++) {
      text += `more_${i} = ${i}\n`;
      const w = p.plan(text, 'a.py', budget);
      assert.ok(w.ids.length <= budget);
      if (w.start !== first.start) recut = i; else starts.add(w.start);
    }
    assert.deepStrictEqual([...starts], [first.start]);
    assert.ok(recut >= 5, `the start stayed for ${recut} typed lines (slack ${WINDOW_SLACK})`);
  });

  it('finds the start again when the text before it was cut by the client (moving char window)', () => {
    const p = new PromptWindowPlanner(tok, true);
    const a = p.plan(file, 'a.py', 200);
    const cut = 500;
    const b = p.plan(file.slice(cut) + 'z', 'a.py', 200);
    assert.strictEqual(b.start + cut, a.start);
  });

  it('an over-long cursor line keeps its last tokens', () => {
    const w = new PromptWindowPlanner(tok, true).plan('a = 1\n' + 'x+'.repeat(500), undefined, 50);
    assert.ok(w.ids.length <= 50 && w.ids.length > 40, `${w.ids.length}`);
  });
});

describe('editor requests through the Generator and the client', () => {
  let runner: ModelRunner;
  before(async () => { runner = await ModelRunner.load(tinyDir, { executionProvider: 'cpu', threads: 1 }); });
  after(async () => { await runner?.dispose(); });

  it('consecutive keystrokes reuse the cached prompt; the window names the prompt text; no prompt traces unless asked', async () => {
    const gen = new Generator(runner);
    const a = await gen.complete({ prefix: file, filename: 'a.py', budget: 200, maxTokens: 2 });
    assert.strictEqual(a.prompt, undefined, 'no prompt traces by default');
    assert.ok(a.window && a.window.start > 0 && a.window.header === '<filename>a.py\n');
    const b = await gen.complete({ prefix: file + 'val', filename: 'a.py', budget: 200, maxTokens: 2, tracePrompt: true });
    assert.strictEqual(b.window?.start, a.window.start);
    assert.ok(b.timings.reusedTokens > 100 && b.timings.prefillTokens < 5, JSON.stringify(b.timings));
    assert.ok(b.prompt && b.prompt.length === b.timings.reusedTokens + b.timings.prefillTokens);
  });

  it('the client: LoadInfo carries the model facts, tokens cross once and come back whole, a huge prefix is cut before sending', async () => {
    const client = new EngineClient({ enginePath });
    try {
      const info = await client.load(tinyDir, { executionProvider: 'cpu', threads: 1 });
      assert.deepStrictEqual([info.dims.layers, info.dims.maxPositions, info.thresholdDefault], [3, 512, 0.5]);
      assert.ok(info.specialTokens.includes('<filename>') && info.specialTokens.includes('<|im_end|>'));
      assert.strictEqual(info.maxPromptChars, 512 * info.maxTokenChars);
      assert.ok(info.calibration && info.calibration.points.length > 1, 'the skip-rate calibration reaches the host');
      const streamed: TokenTrace[] = [];
      const huge = 'q = 0\n'.repeat(200_000) + file;        // 1.2 M characters before the real text
      const r = await client.complete({ prefix: huge, filename: 'a.py', budget: 200, maxTokens: 6, heal: false },
        { onToken: (t) => streamed.push(t) });
      assert.strictEqual(r.tokens.length, streamed.length);
      assert.ok(r.tokens.every((t, i) => t === streamed[i]), 'the result holds the streamed tokens themselves');
      assert.strictEqual(r.tokens.map((t) => t.text).join(''), r.text);
      assert.ok(r.window && huge.slice(r.window.start).length < 200 * info.maxTokenChars && huge[r.window.start - 1] === '\n',
        'the window is given in the caller\'s prefix');
      const local = await new Generator(runner).complete({ prefix: file, filename: 'a.py', budget: 200, maxTokens: 6, heal: false });
      assert.deepStrictEqual(r.tokens.map((t) => t.id), local.tokens.map((t) => t.id), 'same prompt as without the cut');
    } finally {
      await client.dispose();
    }
  });
});
