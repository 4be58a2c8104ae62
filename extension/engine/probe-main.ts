// Child-process entry of one `auto` probe (bundled as dist/engine-probe.js): load the model on ONE execution
// provider, no fallback, run probe() and send the result to the parent. It is a process of its own because a GPU
// provider can die natively (SIGFPE, SIGSEGV) on a graph it claims to support; then only this probe dies, and the
// parent passes the provider over with the signal as the reason.
import { probe } from './probe';
import type { ProbeMessage } from './providers';
import { ModelRunner } from './runner';

const send = (m: ProbeMessage): void => { process.send?.(m); };

async function main(): Promise<void> {
  const { dir, ep, threads } = JSON.parse(process.argv[2] ?? '{}') as { dir: string; ep: string; threads: number };
  const started = performance.now();
  const runner = await ModelRunner.loadOn(dir, ep, threads);
  const loadMs = performance.now() - started;
  const result = await probe(runner, loadMs, (stepMs) => send({ type: 'timing', stepMs, loadMs }));
  send({ type: 'result', result });
  await runner.dispose();
}

main().then(() => process.disconnect?.(), (e: unknown) => {
  send({ type: 'error', message: (e as Error)?.message ?? String(e) });
  process.disconnect?.();
});
