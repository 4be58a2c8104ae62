// Dense-vs-routed benchmark with a scripted engine: prompts from the file, both thresholds, medians, agreement.
import * as assert from 'node:assert';
import { benchmarkPrompts, benchmarkReport, runBenchmark } from '../../../extension/routing/benchmark';
import { FakeEngine } from './fakeEngine';

describe('benchmark', () => {
  const file = Array.from({ length: 40 }, (_, i) => `def f${i}(x):\n    return x + ${i}`).join('\n');

  it('cuts distinct prompts at line ends from the file', () => {
    const ps = benchmarkPrompts(file, 3, 200);
    assert.strictEqual(ps.length, 3);
    for (const p of ps) { assert.ok(p.endsWith('\n')); assert.ok(p.length <= 200); assert.ok(file.includes(p)); }
    assert.throws(() => benchmarkPrompts('   ', 3, 100), /empty/);
  });

  it('runs every prompt dense and routed without prefix reuse and reports both', async () => {
    const e = new FakeEngine((r) => (r.threshold === 0 ? ['a', 'b', 'c', 'd'] : ['a', 'b', 'x', 'y']), 1);
    const r = await runBenchmark(e, file, undefined, { threshold: 0.5, prompts: 2, maxTokens: 4 });
    assert.strictEqual(e.requests.length, 4);
    assert.deepStrictEqual(e.requests.map((q) => q.threshold).sort(), [0, 0, 0.5, 0.5]);
    assert.ok(e.requests.every((q) => q.reusePrefix === false));
    assert.strictEqual(r.agreement, 0.5);        // routed diverges from dense at token 2 of 4
    assert.match(benchmarkReport(r, { file: 'a.py' }), /\| routed \|/);
  });
});
