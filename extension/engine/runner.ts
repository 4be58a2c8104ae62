// ModelRunner: one loaded model folder (manifest, tokenizer, onnxruntime session, KV cache) and its forward step
// on the graph I/O of docs/ARCHITECTURE.md section 2. Used in-process by the worker, the CLI and the tests.
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { KvCache } from './kvcache';
import { layerName, type Manifest, readModelFolder } from './manifest';
import { join } from 'node:path';
import { probe } from './probe';
import type { EpSetting, EpSkip, ProbeReport } from './protocol';
import { chooseAuto } from './providers';
import { autoCandidates, createSession, ort } from './session';
import { TextTokenizer } from './tokenizer';

export interface StepResult {
  /** [numLogits, V] row-major: logits of the last numLogits new positions. */
  logits: Float32Array;
  numLogits: number;
  /** [S, L, 2] p_execute of (attention, MLP) per new token and layer. */
  routerProbs: Float32Array;
  ms: number;
}

export interface RunnerOptions {
  executionProvider?: EpSetting; threads?: number;
  /** `auto` (providers.ts): probe cache folder, probe budget, and where its progress is logged. */
  probeCacheDir?: string; probeBudgetMs?: number; log?: (message: string) => void;
}

export class ModelRunner {
  readonly cache: KvCache;
  private readonly pastKeyNames: string[];
  private readonly pastValueNames: string[];
  private readonly fetches: string[];

  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly tokenizer: TextTokenizer,
    private session: InferenceSession | undefined,
    readonly executionProvider: string,
    readonly passedOver: EpSkip[],
    readonly threads: number,
    public loadMs: number,
  ) {
    const d = manifest.dims;
    this.cache = new KvCache(d.layers, d.kv_heads, d.head_dim);
    this.pastKeyNames = Array.from({ length: d.layers }, (_, l) => layerName(manifest.io.past_key, l));
    this.pastValueNames = Array.from({ length: d.layers }, (_, l) => layerName(manifest.io.past_value, l));
    // Only these are fetched (each fetched output is copied); the cache is never an output.
    const io = manifest.io;
    this.fetches = [io.logits, io.router_probs, io.new_key, io.new_value];
  }

  /** Why this provider (the setting, or auto's verdict) and, for `auto`, every candidate's probe. */
  providerReason = '';
  probes: ProbeReport[] = [];

  /**
   * Load a model folder. An explicit provider other than cpu falls back to CPU (recorded in passedOver) when it
   * cannot load, so a missing GPU never leaves the user without completions; `auto` measures (providers.ts).
   */
  static async load(dir: string, opts: RunnerOptions = {}): Promise<ModelRunner> {
    const setting = opts.executionProvider ?? 'auto', threads = opts.threads ?? 0;
    if (setting === 'cpu') return ModelRunner.loadOn(dir, 'cpu', threads, [], 'set to cpu');
    if (setting !== 'auto') {
      try {
        return await ModelRunner.loadOn(dir, setting, threads, [], `set to ${setting}`);
      } catch (e) {
        const reason = (e as Error).message;
        return ModelRunner.loadOn(dir, 'cpu', threads, [{ ep: setting, reason }], `${setting} did not load: ${reason}`);
      }
    }
    const { tryList, notHere } = autoCandidates();
    const cpu = await ModelRunner.loadOn(dir, 'cpu', threads, notHere, '');
    const folder = readModelFolder(dir);
    const gpus = tryList.filter((ep) => ep !== 'cpu');
    if (!folder.gpuModelPath || gpus.length === 0) {
      const noGraph = gpus.map((ep) => ({ ep, reason: 'the model folder has no GPU graph (model.gpu.onnx): rebuild it' }));
      cpu.passedOver.push(...(folder.gpuModelPath ? [] : noGraph));
      cpu.providerReason = gpus.length === 0 ? 'auto: no GPU provider on this platform' : 'auto: no GPU graph in the model folder';
      return cpu;
    }
    const started = performance.now();
    const cpuProbe = await probe(cpu, cpu.loadMs);
    const { ep, reports } = await chooseAuto({
      dir, files: [join(dir, 'manifest.json'), folder.modelPath, folder.gpuModelPath], threads, cpu: cpuProbe,
      candidates: gpus, cacheDir: opts.probeCacheDir, budgetMs: opts.probeBudgetMs, log: opts.log,
    });
    const passed = reports.filter((r) => !r.ok).map((r) => ({ ep: r.ep, reason: r.reason }));
    const chosen = reports.find((r) => r.ep === ep)!;
    let runner = cpu;
    if (ep !== 'cpu') {
      try {
        runner = await ModelRunner.loadOn(dir, ep, threads, notHere, '');
        await cpu.dispose();
      } catch (e) {
        passed.push({ ep, reason: `probe passed but the session did not load: ${(e as Error).message}` });
      }
    }
    runner.passedOver.push(...passed);
    runner.probes = reports;
    runner.providerReason = runner === cpu
      ? `auto: CPU (${cpuProbe.stepMs.toFixed(1)} ms per decode step); no GPU candidate was faster and equal`
      : `auto: ${ep}: ${chosen.reason}`;
    runner.loadMs += performance.now() - started;
    return runner;
  }

  /** Load on exactly `ep` (no fallback): the CPU graph for cpu, the GPU graph (model.gpu.onnx) for the others. */
  static async loadOn(dir: string, ep: string, threads = 0, passedOver: EpSkip[] = [], reason = ''): Promise<ModelRunner> {
    const started = performance.now();
    const folder = readModelFolder(dir);
    const m = folder.manifest;
    const graph = ep === 'cpu' ? folder.modelPath : folder.gpuModelPath;
    if (!graph) throw new Error('the model folder has no GPU graph (model.gpu.onnx; CPU only): rebuild it with the current toolkit');
    const tokenizer = TextTokenizer.fromFile(folder.tokenizerPath, { addSpecialTokens: false });
    const session = await createSession(graph, ep, threads);
    const runner = new ModelRunner(dir, m, tokenizer, session, ep, [...passedOver], threads, performance.now() - started);
    runner.providerReason = reason;
    try {
      runner.checkGraphIo(graph);
    } catch (e) {
      await runner.dispose(); // not a usable model: free the session now
      throw e;
    }
    return runner;
  }

  get layers(): number { return this.manifest.dims.layers; }
  get vocab(): number { return this.manifest.dims.vocab; }

  /**
   * Run the new tokens `ids` at positions cache.length.. and append their K/V to the cache.
   * numLogits: logits for the last N positions (1 when generating, ids.length for perplexity/parity).
   */
  async step(ids: ArrayLike<number>, threshold: number, numLogits = 1): Promise<StepResult> {
    const session = this.live();
    const o = ort();
    const s = ids.length, d = this.manifest.dims, io = this.manifest.io;
    if (s < 1) throw new Error('step: no tokens');
    if (numLogits < 1 || numLogits > s) throw new Error(`step: numLogits ${numLogits} outside 1..${s}`);
    const past = this.cache.length;
    if (past + s > d.max_positions) {
      throw new Error(`sequence of ${past + s} tokens exceeds the model's ${d.max_positions} positions`);
    }
    const started = performance.now();
    const inputIds = new BigInt64Array(s);
    for (let i = 0; i < s; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= d.vocab) throw new Error(`step: token id ${id} outside the vocabulary`);
      inputIds[i] = BigInt(id);
    }
    const feeds: Record<string, Tensor> = {
      [io.input_ids]: new o.Tensor('int64', inputIds, [1, s]),
      [io.past_length]: new o.Tensor('int64', BigInt64Array.of(BigInt(past)), [1]),
      [io.threshold]: new o.Tensor('float32', Float32Array.of(threshold), [1]),
      [io.num_logits]: new o.Tensor('int64', BigInt64Array.of(BigInt(numLogits)), [1]),
    };
    const c = this.cache, shape = [1, d.kv_heads, c.capacity, d.head_dim];
    for (let l = 0; l < d.layers; l++) {
      feeds[this.pastKeyNames[l]] = new o.Tensor('float32', c.keys[l], shape);
      feeds[this.pastValueNames[l]] = new o.Tensor('float32', c.values[l], shape);
    }
    const out = await session.run(feeds, this.fetches);
    const logits = out[io.logits].data as Float32Array;
    const routerProbs = out[io.router_probs].data as Float32Array;
    if (logits.length !== numLogits * d.vocab || routerProbs.length !== s * d.layers * 2) {
      throw new Error(`graph outputs have unexpected sizes (logits ${logits.length}, router_probs ${routerProbs.length}); ` +
        'the model file and manifest.json disagree: rebuild the model folder');
    }
    this.cache.append(out[io.new_key].data as Float32Array, out[io.new_value].data as Float32Array, s);
    return { logits, numLogits, routerProbs, ms: performance.now() - started };
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.release();
  }

  private live(): InferenceSession {
    if (!this.session) throw new Error('model was disposed');
    return this.session;
  }

  private checkGraphIo(modelPath: string): void {
    const s = this.live(), io = this.manifest.io;
    const wantIn = [io.input_ids, io.past_length, io.threshold, io.num_logits, ...this.pastKeyNames, ...this.pastValueNames];
    const missingIn = wantIn.filter((n) => !s.inputNames.includes(n));
    const missingOut = this.fetches.filter((n) => !s.outputNames.includes(n));
    if (missingIn.length || missingOut.length) {
      throw new Error(`${modelPath} does not have the I/O its manifest names (missing inputs ` +
        `${JSON.stringify(missingIn.slice(0, 4))}, outputs ${JSON.stringify(missingOut)}); rebuild the model folder`);
    }
  }
}
