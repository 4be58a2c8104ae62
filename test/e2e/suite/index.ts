// Entry of the real-VS-Code suite (test-electron style `run()`), executed INSIDE the extension host by the workbench
// that test/e2e/run.sh opens. Runs the suite files in order with mocha 11 and prints a plain `N passed, N failed` line.
import * as path from 'node:path';
import Mocha from 'mocha';

const FILES = ['inline.test.js', 'webviews.test.js', 'commands.test.js', 'errors.test.js', 'engineCrash.test.js', 'hardening.test.js', 'defaultModel.test.js'];

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120000, color: false, reporter: 'spec', grep: process.env.SKIPGPT_E2E_GREP || undefined });
  for (const f of FILES) mocha.addFile(path.join(__dirname, f));
  let passed = 0, failed = 0, skipped = 0;
  return new Promise((resolve, reject) => {
    const runner = mocha.run(() => {
      console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
      if (failed) reject(new Error(`${failed} tests failed`)); else resolve();
    });
    runner.on('pass', () => { passed += 1; });
    runner.on('fail', () => { failed += 1; });
    runner.on('pending', () => { skipped += 1; });
  });
}
