// Test-only worker: the real engine worker, plus a simulated native crash (an uncaught error in the thread) when a
// request's prompt is "__crash__". Lets the client test see a worker die mid-request.
import { parentPort } from 'node:worker_threads';
import '../../../extension/engine/worker';

parentPort?.on('message', (m: { type: string; request?: { prompt?: string } }) => {
  if (m.type === 'complete' && m.request?.prompt === '__crash__') {
    setImmediate(() => { throw new Error('simulated crash in the engine worker'); });
  }
});
