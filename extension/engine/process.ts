// The engine's own process (forked by EngineClient with an IPC channel): owns the ModelRunner and Generator, so a
// native crash in onnxruntime (SIGSEGV, SIGFPE, abort) ends this process and never the extension host. Loads and
// completions run one at a time in arrival order; `cancel` and `dispose` act at once (the generator yields to the
// event loop between forward steps, so they arrive while a completion runs). Messages: protocol.ts.
import { Generator } from './generate';
import type { DoneResult, FromEngine, LoadInfo, ToEngine } from './protocol';
import { ModelRunner } from './runner';
import { calibrationOf } from './sparsity';

if (!process.send) throw new Error('engine process: must be started by EngineClient (child_process.fork with an IPC channel)');

let runner: ModelRunner | undefined;
let generator: Generator | undefined;
let queue: Promise<void> = Promise.resolve();
/** Completions queued or running, and those of them asked to stop. */
const live = new Set<number>();
const cancelled = new Set<number>();
let disposing = false;

function send(msg: FromEngine): void {
  // After the host went away the channel is closed: nothing to tell anyone.
  if (process.connected) process.send?.(msg, undefined, undefined, () => undefined);
}

function cancelledResult(threshold: number | undefined): DoneResult {
  return { text: '', tail: '', tokenCount: 0, finishReason: 'cancelled', threshold: threshold ?? NaN, timings: {
    reusedTokens: 0, prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0, decodeTokPerS: NaN, totalMs: 0,
    draftedTokens: 0, acceptedTokens: 0 } };
}

/** What the host needs to know about a loaded model, so it never reads the model folder itself. */
function loadInfo(modelDir: string, r: ModelRunner): LoadInfo {
  const m = r.manifest, d = m.dims, st = m.special_tokens;
  const maxTokenChars = r.tokenizer.maxTokenChars;
  return {
    modelDir, name: m.name, layers: r.layers, vocabSize: r.vocab,
    dims: { layers: d.layers, hidden: d.hidden, intermediate: d.intermediate, heads: d.heads, kvHeads: d.kv_heads,
      headDim: d.head_dim, vocab: d.vocab, maxPositions: d.max_positions },
    specialTokens: [...Object.keys(st.code ?? {}), ...Object.keys(st.fim ?? {}), st.eos, ...(st.bos ? [st.bos] : [])],
    thresholdDefault: m.router.threshold_default, maxTokenChars, maxPromptChars: d.max_positions * maxTokenChars,
    calibration: calibrationOf(m) ?? null,
    executionProvider: r.executionProvider, providerReason: r.providerReason, probes: r.probes,
    passedOver: r.passedOver, threads: r.threads, loadMs: r.loadMs,
  };
}

async function load(msg: Extract<ToEngine, { type: 'load' }>): Promise<void> {
  // The new model first: if it does not load, the one already loaded keeps serving (issue 13, row 6).
  const log = (message: string): void => send({ type: 'log', level: 'info', message });
  const r = await ModelRunner.load(msg.modelDir, { ...msg.options, log });
  const old = runner;
  runner = r;
  generator = new Generator(r, msg.options.prefillChunk);
  await old?.dispose();
  send({ type: 'log', level: 'info', message: `loaded ${r.manifest.name} on ${r.executionProvider} in ${r.loadMs.toFixed(0)} ms` });
  send({ type: 'loaded', id: msg.id, info: loadInfo(msg.modelDir, r) });
}

async function complete(msg: Extract<ToEngine, { type: 'complete' }>): Promise<void> {
  const id = msg.id;
  try {
    // One turn of the event loop first, so a cancel sent right behind the request (an already aborted signal) is in.
    await new Promise((resolve) => setImmediate(resolve));
    if (cancelled.has(id)) { send({ type: 'done', id, result: cancelledResult(msg.request.threshold) }); return; }
    if (!generator) throw new Error('no model loaded: call load() first');
    // Each token crosses once, when generated; `done` carries the rest of the result and the text the engine added to
    // the last token after it was sent.
    let lastSent = '';
    const { tokens, ...rest } = await generator.complete(msg.request, {
      isCancelled: () => cancelled.has(id),
      onToken: (token, text) => { lastSent = token.text; send({ type: 'token', id, token, text }); },
    });
    const last = tokens[tokens.length - 1]?.text ?? '';
    send({ type: 'done', id, result: { ...rest, tail: last.slice(lastSent.length), tokenCount: tokens.length } });
  } finally {
    live.delete(id);
    cancelled.delete(id);
  }
}

async function dispose(): Promise<void> {
  const r = runner;
  runner = undefined; generator = undefined;
  await r?.dispose();
  process.exit(0);
}

function enqueue(msg: ToEngine, run: () => Promise<void>): void {
  queue = queue.then(run).catch((e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    send({ type: 'error', id: msg.id, message: err.message, stack: err.stack });
  });
}

process.on('message', (msg: ToEngine) => {
  switch (msg.type) {
    case 'cancel':
      if (live.has(msg.id)) cancelled.add(msg.id);
      return;
    case 'dispose':
      // Everything running or queued stops at its next step; the release waits for the running step to return.
      if (disposing) return;
      disposing = true;
      for (const id of live) cancelled.add(id);
      enqueue(msg, dispose);
      return;
    case 'complete':
      live.add(msg.id);
      if (disposing) cancelled.add(msg.id);
      enqueue(msg, () => complete(msg));
      return;
    case 'load':
      enqueue(msg, () => load(msg));
  }
});

// The host is gone (closed, killed, crashed): nobody can use this engine any more.
process.on('disconnect', () => process.exit(0));
