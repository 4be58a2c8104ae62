// onnxruntime session creation on one execution provider (the choice and fallbacks are ModelRunner.load and
// providers.ts), and the list of providers `auto` considers on each platform.
// Telemetry is disabled before onnxruntime-node is first required, and its log level set before the first session.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { EpSkip } from './protocol';

process.env.ORT_DISABLE_TELEMETRY = '1';
type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;

/** onnxruntime-node, required lazily so the env above is in place first and tests of other modules never load it. */
export function ort(): Ort {
  if (!ortModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as Ort;
    ortModule.env.logLevel = 'error';
  }
  return ortModule;
}

/** CUDA for onnxruntime-node only exists if the user installed it (post-install download; not in the npm tarball). */
function cudaInstalled(): boolean {
  try {
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    return existsSync(join(pkg, 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

/** The providers `auto` tries on this platform, best first, and the ones it passes over without trying. */
export function autoCandidates(platform = process.platform): { tryList: string[]; notHere: EpSkip[] } {
  const tryList = ['webgpu'];
  const notHere: EpSkip[] = [];
  if (platform === 'win32') tryList.push('dml'); else notHere.push({ ep: 'dml', reason: `DirectML is Windows-only (this is ${platform})` });
  if (platform === 'darwin') tryList.push('coreml'); else notHere.push({ ep: 'coreml', reason: `CoreML is macOS-only (this is ${platform})` });
  if (platform === 'linux' && cudaInstalled()) tryList.push('cuda');
  else notHere.push({ ep: 'cuda', reason: platform === 'linux'
    ? 'CUDA provider not installed (install onnxruntime-node without ONNXRUNTIME_NODE_INSTALL=skip to get it)'
    : `CUDA provider is only offered on Linux here (this is ${platform})` });
  tryList.push('cpu');
  return { tryList, notHere };
}

/**
 * Create a session for `modelPath` on exactly `ep` (providers do not fall back by themselves; the caller decides:
 * ModelRunner.load). The error names the provider and, for the CPU, how to rebuild a damaged folder.
 */
export async function createSession(modelPath: string, ep: string, threads = 0): Promise<InferenceSession> {
  const options: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  if (threads > 0) { options.intraOpNumThreads = threads; options.interOpNumThreads = 1; }
  try {
    return await ort().InferenceSession.create(modelPath, { ...options, executionProviders: [ep] });
  } catch (e) {
    const reason = firstLine((e as Error).message);
    if (ep !== 'cpu') throw new Error(reason);
    throw new Error(`cannot load ${modelPath}: ${reason}. The file may be damaged or from an incompatible ` +
      'export: rebuild it (`npm run model` / `python -m skipgpt build`).');
  }
}

/** A short reason from an onnxruntime error: its first line, without the C++ source location and assertion. */
function firstLine(s: string): string {
  let line = s.split('\n').find((l) => l.trim().length > 0) ?? s;
  line = line.replace(/^\S+\.(cc|cpp|h):\d+ /, '');
  const failed = line.match(/(Failed to .*)$/);
  if (failed) line = failed[1];
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
