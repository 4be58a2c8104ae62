// Test-only engine process: the real one (extension/engine/process.ts) plus ways to die or hang on demand, chosen by
// a completion's prompt: "__exit__" exits with code 7, "__abort__" writes a line to stderr and aborts (SIGABRT, as
// a C++ `terminate` does), "__hang__" blocks the event loop for 30 s (a native call that never returns).
// Runs in SKIPGPT_TEST_ENGINE_CWD when set, so a core dump of a crash lands in a temp folder, not the repository.
// SKIPGPT_TEST_STEP_DELAY_MS slows every forward step (a tiny-model step takes well under a millisecond, so a cancel
// test on a loaded machine could otherwise see the whole request finish before the cancel message arrives).
import '../../../extension/engine/process';
import { ModelRunner } from '../../../extension/engine/runner';

const stepDelay = Number(process.env.SKIPGPT_TEST_STEP_DELAY_MS ?? 0);
if (stepDelay > 0) {
  const step = ModelRunner.prototype.step;
  ModelRunner.prototype.step = async function (this: ModelRunner, ...args: Parameters<ModelRunner['step']>) {
    const r = await step.apply(this, args);
    await new Promise((resolve) => setTimeout(resolve, stepDelay));
    return r;
  };
}

if (process.env.SKIPGPT_TEST_ENGINE_CWD) process.chdir(process.env.SKIPGPT_TEST_ENGINE_CWD);

process.on('message', (m: { type: string; request?: { prompt?: string } }) => {
  if (m.type !== 'complete') return;
  const p = m.request?.prompt;
  if (p === '__exit__') process.exit(7);
  if (p === '__abort__') process.stderr.write('terminate called: simulated native abort\n', () => process.kill(process.pid, 'SIGABRT'));
  if (p === '__hang__') { const end = Date.now() + 30_000; while (Date.now() < end) { /* stuck */ } }
});
