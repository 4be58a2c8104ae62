// Worker-thread side of the engine: owns the ModelRunner and Generator, runs requests one at a time (the session
// blocks this thread while it runs, never the host's), and answers with the messages of protocol.ts.
import { parentPort } from 'node:worker_threads';
import { Generator } from './generate';
import type { FromWorker, LoadInfo, ToWorker } from './protocol';
import { ModelRunner } from './runner';

const port = parentPort;
if (!port) throw new Error('engine worker: must run inside a worker_thread (use EngineClient)');

let runner: ModelRunner | undefined;
let generator: Generator | undefined;
let queue: Promise<void> = Promise.resolve();

const send = (msg: FromWorker): void => port.postMessage(msg);

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'load': {
      await runner?.dispose();
      runner = undefined; generator = undefined;
      const r = await ModelRunner.load(msg.modelDir, msg.options);
      runner = r;
      generator = new Generator(r, msg.options.prefillChunk);
      send({ type: 'log', level: 'info', message: `loaded ${r.manifest.name} on ${r.executionProvider} in ${r.loadMs.toFixed(0)} ms` });
      const info: LoadInfo = {
        modelDir: msg.modelDir, name: r.manifest.name, layers: r.layers, vocabSize: r.vocab,
        executionProvider: r.executionProvider, passedOver: r.passedOver, threads: r.threads, loadMs: r.loadMs,
      };
      send({ type: 'loaded', id: msg.id, info });
      return;
    }
    case 'complete': {
      if (!generator) throw new Error('no model loaded: call load() first');
      const id = msg.id;
      const isCancelled = () => Atomics.load(msg.cancel, 0) !== 0;
      if (isCancelled()) { // cancelled while queued: skip the prefill too
        send({ type: 'done', id, result: {
          text: '', tokens: [], prompt: [], finishReason: 'cancelled', threshold: msg.request.threshold ?? NaN,
          timings: { reusedTokens: 0, prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, decodeTokPerS: NaN, totalMs: 0, draftedTokens: 0, acceptedTokens: 0 },
        } });
        return;
      }
      const result = await generator.complete(msg.request, {
        isCancelled,
        onToken: (token, text) => send({ type: 'token', id, token, text }),
      });
      send({ type: 'done', id, result });
      return;
    }
    case 'dispose': {
      await runner?.dispose();
      runner = undefined; generator = undefined;
      send({ type: 'disposed', id: msg.id });
      return;
    }
  }
}

port.on('message', (msg: ToWorker) => {
  queue = queue.then(() => handle(msg)).catch((e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    send({ type: 'error', id: msg.id, message: err.message, stack: err.stack });
  });
});
