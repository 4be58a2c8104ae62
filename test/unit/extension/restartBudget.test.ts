// The bound on automatic engine restarts (extension/host/restartBudget.ts): N per window, then none until the window
// has moved on or the user restarts the engine.
import * as assert from 'node:assert';
import { RestartBudget } from '../../../extension/host/restartBudget';

describe('host/restartBudget', () => {
  it('allows max restarts within the window, refuses the next, allows again once old crashes leave the window', () => {
    let now = 1_000_000;
    const b = new RestartBudget(3, 60_000, () => now);
    assert.deepStrictEqual([b.take(), b.take(), b.take()], [true, true, true]);
    now += 1000;
    assert.strictEqual(b.take(), false);  // 4th crash within a minute
    assert.strictEqual(b.recent, 4);
    now += 59_500;                         // the first three are now older than the window, the 4th is not
    assert.strictEqual(b.recent, 1);
    assert.strictEqual(b.take(), true);
  });

  it('reset() (a restart the user asked for) starts counting again', () => {
    const b = new RestartBudget(1, 60_000, () => 5);
    assert.deepStrictEqual([b.take(), b.take()], [true, false]);
    b.reset();
    assert.strictEqual(b.take(), true);
  });
});
