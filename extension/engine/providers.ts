// How `auto` picks an execution provider: by measurement, not by a fixed order. The CPU is probed in-process;
// each GPU candidate the platform offers is probed in its own child process (probe-main.ts) with a time budget;
// a candidate is kept only if it loads, does not crash, matches the CPU's logits (probe.parityProblem) and decodes
// faster than the CPU. Every candidate's figures or reason is reported (LoadInfo.probes, the log, the status bar).
// Results are cached per model files, onnxruntime version and machine in `cacheDir` when one is given.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parityProblem, type ProbeResult } from './probe';
import type { ProbeReport } from './protocol';

export type ProbeMessage =
  | { type: 'timing'; stepMs: number; loadMs: number }
  | { type: 'result'; result: ProbeResult }
  | { type: 'error'; message: string };

export interface AutoOptions {
  dir: string;
  /** Files whose size and mtime key the cache (manifest, graphs). */
  files: string[];
  threads: number;
  cpu: ProbeResult;
  candidates: string[];
  cacheDir?: string;
  budgetMs?: number;
  log?: (message: string) => void;
}

export const DEFAULT_PROBE_BUDGET_MS = 60_000;

/** The probe child's script: the bundle beside this file (dist/), else the transpiled one (tests). */
function probeScript(): string {
  const bundled = join(__dirname, 'engine-probe.js');
  return existsSync(bundled) ? bundled : join(__dirname, 'probe-main.js');
}

/** Probe `ep` in a child process; resolves with its result or the reason it was passed over. */
export function probeInChild(dir: string, ep: string, threads: number, cpu: ProbeResult, budgetMs: number):
Promise<{ result?: ProbeResult; reason?: string }> {
  return new Promise((resolve) => {
    const child = fork(probeScript(), [JSON.stringify({ dir, ep, threads })], {
      serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ELECTRON_RUN_AS_NODE: '1' },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    let settled = false;
    const finish = (v: { result?: ProbeResult; reason?: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(v);
    };
    const timer = setTimeout(() => finish({ reason: `probe did not finish within ${(budgetMs / 1000).toFixed(0)} s ` +
      `(a CPU step takes ${cpu.stepMs.toFixed(1)} ms)` }), budgetMs);
    child.on('message', (m: ProbeMessage) => {
      if (m.type === 'timing' && m.stepMs >= cpu.stepMs) {
        finish({ reason: `slower than the CPU: ${m.stepMs.toFixed(1)} ms per decode step vs ${cpu.stepMs.toFixed(1)} ms` });
      } else if (m.type === 'result') finish({ result: m.result });
      else if (m.type === 'error') finish({ reason: m.message.split('\n')[0].slice(0, 300) });
    });
    child.on('exit', (code, signal) => {
      const tail = stderr.trim().split('\n').filter((l) => !/^Warning: /.test(l)).pop();
      finish({ reason: signal ? `the provider crashed the probe process (${signal})${tail ? `: ${tail}` : ''}`
        : `probe process exited with code ${code}${tail ? `: ${tail}` : ''}` });
    });
    child.on('error', (e) => finish({ reason: `probe process failed to start: ${e.message}` }));
  });
}

function cacheKey(o: AutoOptions, ep: string): string {
  const files = o.files.filter(existsSync).map((f) => { const s = statSync(f); return `${f}:${s.size}:${s.mtimeMs}`; });
  let ortVersion = '?';
  try { ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version; } catch { /* keep ? */ }
  return JSON.stringify([realpathSync(o.dir), files, ortVersion, process.platform, process.arch, o.threads, ep]);
}

type Cache = Record<string, ProbeReport>;
function readCache(dir: string | undefined): Cache {
  if (!dir) return {};
  try { return JSON.parse(readFileSync(join(dir, 'providers.json'), 'utf8')) as Cache; } catch { return {}; }
}
function writeCache(dir: string | undefined, cache: Cache): void {
  if (!dir) return;
  try { mkdirSync(dir, { recursive: true }); writeFileSync(join(dir, 'providers.json'), JSON.stringify(cache)); } catch { /* a cache only */ }
}

/** Probe every candidate (or take its cached report) and name the fastest that passed, else 'cpu'. */
export async function chooseAuto(o: AutoOptions): Promise<{ ep: string; reports: ProbeReport[] }> {
  const cache = readCache(o.cacheDir);
  const reports: ProbeReport[] = [{ ep: 'cpu', ok: true, stepMs: o.cpu.stepMs, reason: 'measured in the engine' }];
  for (const ep of o.candidates) {
    const key = cacheKey(o, ep);
    let report = cache[key];
    if (report) report = { ...report, reason: `${report.reason} (cached)` };
    else {
      o.log?.(`auto: probing ${ep} (budget ${((o.budgetMs ?? DEFAULT_PROBE_BUDGET_MS) / 1000).toFixed(0)} s)`);
      const { result, reason } = await probeInChild(o.dir, ep, o.threads, o.cpu, o.budgetMs ?? DEFAULT_PROBE_BUDGET_MS);
      const problem = result ? parityProblem(o.cpu, result) : undefined;
      if (!result) report = { ep, ok: false, reason: reason ?? 'no result' };
      else if (problem) report = { ep, ok: false, stepMs: result.stepMs, reason: `differs from the CPU: ${problem}` };
      else if (result.stepMs >= o.cpu.stepMs) {
        report = { ep, ok: false, stepMs: result.stepMs, reason: `slower than the CPU: ${result.stepMs.toFixed(1)} ms per decode step vs ${o.cpu.stepMs.toFixed(1)} ms` };
      } else report = { ep, ok: true, stepMs: result.stepMs, reason: `matches the CPU, ${result.stepMs.toFixed(1)} ms per decode step vs ${o.cpu.stepMs.toFixed(1)} ms` };
      cache[key] = report;
    }
    o.log?.(`auto: ${ep}: ${report.ok ? 'usable' : 'passed over'}: ${report.reason}`);
    reports.push(report);
  }
  writeCache(o.cacheDir, cache);
  const best = reports.filter((r) => r.ok).sort((a, b) => (a.stepMs ?? Infinity) - (b.stepMs ?? Infinity))[0];
  return { ep: best?.ep ?? 'cpu', reports };
}
