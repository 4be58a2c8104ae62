// Strict reader of a model folder's manifest.json (format "skipgpt-onnx", format_version 1; written by
// training/skipgpt/export/manifest.py, schema in docs/MANIFEST.md). Anything unknown, missing or mistyped is an
// Error naming the file, the field and how to rebuild; unknown extra keys are ignored (additive fields keep v1).
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep, win32 } from 'node:path';
import { type FileIntegrity, integrityProblem, isFileIntegrity } from './integrity';
import { calibrationProblem } from './sparsity';
import type { Calibration } from './protocol';

export const FORMAT = 'skipgpt-onnx';
export const FORMAT_VERSION = 1;
const REBUILD = 'rebuild the model folder (`npm run model` / `python -m skipgpt build`)';

export interface Dims {
  layers: number; hidden: number; heads: number; kv_heads: number; head_dim: number;
  intermediate: number; vocab: number; max_positions: number; rope_theta: number; rms_eps: number;
}
export interface IONames {
  input_ids: string; past_length: string; threshold: string; num_logits: string;
  past_key: string; past_value: string; logits: string; router_probs: string; new_key: string; new_value: string;
}
export interface SpecialTokens {
  bos_id: number | null; bos: string | null; eos_id: number; eos: string; pad_id: number | null; pad: string | null;
  code: Record<string, number>; fim: Record<string, number> | null;
}
/** Skip rate vs threshold (router.calibration): declared in protocol.ts, since LoadInfo hands it to the host. */
export type { Calibration };
export interface Manifest {
  format: string; format_version: number; name: string; dims: Dims; special_tokens: SpecialTokens;
  /** model_gpu (optional): the graph for GPU providers (skip mode "if", same weights file; docs/MANIFEST.md). */
  files: { model: string; weights: string; tokenizer: string; parity: string; model_gpu?: string | null };
  io: IONames;
  router: { modules: string[]; threshold_default: number; probs_layout: string; rule: string; calibration?: Calibration | null };
  quantization: { method: string; bits: number | null; block_size: number | null; weights: string[] };
  dtype: string;
  provenance: Record<string, unknown>;
  /** Optional (older exporters wrote none): size and hashes of the folder's files, keyed by file name. */
  integrity?: Record<string, FileIntegrity> | null;
}

/** A parsed manifest plus absolute paths of the files it names (checked to exist). */
export interface ModelFolder {
  dir: string;
  manifest: Manifest;
  modelPath: string;
  /** The GPU graph, when the folder has one (older folders: CPU only). */
  gpuModelPath?: string;
  tokenizerPath: string;
  weightsPath: string;
  parityPath: string;
}

type Kind = 'int' | 'num' | 'str' | 'int?' | 'str?' | 'num?' | 'obj' | 'obj?' | 'str[]' | 'intmap' | 'intmap?';
const SCHEMA: Record<string, Record<string, Kind>> = {
  '': { format: 'str', format_version: 'int', name: 'str', dims: 'obj', special_tokens: 'obj', files: 'obj',
    io: 'obj', router: 'obj', quantization: 'obj', dtype: 'str', provenance: 'obj' },
  dims: { layers: 'int', hidden: 'int', heads: 'int', kv_heads: 'int', head_dim: 'int', intermediate: 'int',
    vocab: 'int', max_positions: 'int', rope_theta: 'num', rms_eps: 'num' },
  special_tokens: { bos_id: 'int?', bos: 'str?', eos_id: 'int', eos: 'str', pad_id: 'int?', pad: 'str?',
    code: 'intmap', fim: 'intmap?' },
  files: { model: 'str', weights: 'str', tokenizer: 'str', parity: 'str' },
  io: { input_ids: 'str', past_length: 'str', threshold: 'str', num_logits: 'str', past_key: 'str',
    past_value: 'str', logits: 'str', router_probs: 'str', new_key: 'str', new_value: 'str' },
  router: { modules: 'str[]', threshold_default: 'num', probs_layout: 'str', rule: 'str' },
  quantization: { method: 'str', bits: 'int?', block_size: 'int?', weights: 'str[]' },
};

function checkValue(v: unknown, kind: Kind): boolean {
  if (kind.endsWith('?') && v === null) return true;
  switch (kind.replace('?', '')) {
    case 'int': return Number.isInteger(v);
    case 'num': return typeof v === 'number' && Number.isFinite(v);
    case 'str': return typeof v === 'string';
    case 'obj': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'str[]': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'intmap': return typeof v === 'object' && v !== null && !Array.isArray(v) &&
      Object.values(v).every((x) => Number.isInteger(x));
  }
  return false;
}

/** Validate parsed JSON against the v1 schema; `file` only names the source in errors. */
export function parseManifest(data: unknown, file = 'manifest.json'): Manifest {
  const fail = (msg: string): never => { throw new Error(`${file}: ${msg}; ${REBUILD}`); };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('expected a JSON object');
  const root = data as Record<string, unknown>;
  if (root.format !== FORMAT) fail(`format is ${JSON.stringify(root.format)}, expected "${FORMAT}" (is this a SkipGPT model folder?)`);
  if (root.format_version !== FORMAT_VERSION) {
    fail(`format_version ${JSON.stringify(root.format_version)} is not supported (this engine reads ${FORMAT_VERSION})`);
  }
  for (const [section, fields] of Object.entries(SCHEMA)) {
    const obj = (section ? root[section] : root) as Record<string, unknown>;
    for (const [key, kind] of Object.entries(fields)) {
      const where = section ? `${section}.${key}` : key;
      if (!(key in obj)) fail(`missing field "${where}"`);
      if (!checkValue(obj[key], kind)) fail(`field "${where}" should be ${kind}, got ${JSON.stringify(obj[key])}`);
    }
  }
  const integrity = root.integrity ?? {};
  if (!checkValue(integrity, 'obj')) fail(`field "integrity" should be obj, got ${JSON.stringify(integrity)}`);
  for (const [name, entry] of Object.entries(integrity as object)) {
    if (!isFileIntegrity(entry)) fail(`integrity[${JSON.stringify(name)}] should be {size, sha256, sample_sha256} (hex)`);
  }
  const calibration = (root.router as Record<string, unknown>).calibration;
  const calProblem = calibration === undefined || calibration === null ? undefined : calibrationProblem(calibration);
  if (calProblem) fail(`field "router.calibration" is malformed: ${calProblem}`);
  const m = root as unknown as Manifest;
  const d = m.dims;
  if (d.heads % d.kv_heads !== 0 || d.layers < 1 || d.vocab < 1 || d.head_dim < 1) {
    fail(`dims are inconsistent (layers=${d.layers} heads=${d.heads} kv_heads=${d.kv_heads} head_dim=${d.head_dim})`);
  }
  if (m.dtype !== 'float32') fail(`dtype "${m.dtype}" is not supported (float32 only)`);
  if (!['none', 'MatMulNBits'].includes(m.quantization.method)) fail(`quantization.method "${m.quantization.method}" is unknown`);
  if (m.router.modules.join(',') !== 'attn,mlp') fail(`router.modules ${JSON.stringify(m.router.modules)}, expected ["attn","mlp"]`);
  for (const key of ['past_key', 'past_value'] as const) {
    if (!m.io[key].includes('{layer}')) fail(`io.${key} "${m.io[key]}" has no {layer} placeholder`);
  }
  return m;
}

/** JSON.parse's complaint without the text it quotes (V8 quotes the file's first bytes): only where it failed. */
export function jsonProblem(e: unknown): string {
  const at = /position (\d+)/.exec(String((e as Error)?.message));
  return at ? `not valid JSON (at character ${at[1]})` : 'not valid JSON';
}

/**
 * `<dir>/<name>` for the manifest's `field`, refused unless it stays inside the model folder once symlinks are
 * resolved: a manifest must never make the engine read /etc/passwd or load another folder's model.
 */
function inside(dir: string, realDir: string, name: string, field: string, file: string): string {
  const what = `${file}: ${field} ${JSON.stringify(name)}`;
  if (isAbsolute(name) || win32.isAbsolute(name)) throw new Error(`${what} is an absolute path, not a file of the model folder; ${REBUILD}`);
  const p = join(dir, name);
  const rel = relative(realDir, existsSync(p) ? realpathSync(p) : resolve(realDir, name));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`${what} points outside the model folder; ${REBUILD}`);
  }
  return p;
}

/** Read and check `<dir>/manifest.json` and that the files it names are inside the folder, there and not empty. */
export function readModelFolder(dir: string): ModelFolder {
  const file = join(dir, 'manifest.json');
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist; ${REBUILD}`);
  if (!existsSync(file)) throw new Error(`${file} not found: not a SkipGPT model folder; ${REBUILD}`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${jsonProblem(e)}; ${REBUILD}`);
  }
  const manifest = parseManifest(data, file);
  const realDir = realpathSync(dir);
  // Every file the manifest names, also under fields this reader does not use (an exporter's optional extra files).
  const paths: Record<string, string> = {};
  for (const [field, name] of Object.entries(manifest.files)) {
    if (typeof name === 'string') paths[field] = inside(dir, realDir, name, `files.${field}`, file);
  }
  const need = (field: keyof Manifest['files']): string => {
    const p = paths[field];
    if (!existsSync(p)) throw new Error(`${p} (manifest files.${field}) is missing; ${REBUILD}`);
    if (!statSync(p).isFile() || statSync(p).size === 0) throw new Error(`${p} (manifest files.${field}) is empty or not a file; ${REBUILD}`);
    return p;
  };
  const modelPath = need('model'), weightsPath = need('weights'), tokenizerPath = need('tokenizer');
  const gpuModelPath = typeof manifest.files.model_gpu === 'string' ? need('model_gpu') : undefined;
  // Sizes and sampled hashes, checked before onnxruntime or the tokenizer reads a byte of the files.
  for (const [name, want] of Object.entries(manifest.integrity ?? {})) {
    const p = inside(dir, realDir, name, 'integrity key', file);
    if (!existsSync(p)) continue;  // parity.json need not ship; a missing file the engine needs was refused above
    const problem = integrityProblem(p, want);
    if (problem) throw new Error(`${problem}: ${REBUILD}`);
  }
  const parityPath = paths.parity;  // only tests read it: it may be absent
  return { dir, manifest, modelPath, gpuModelPath, tokenizerPath, weightsPath, parityPath };
}

/** Expand a `{layer}` name template. */
export function layerName(template: string, layer: number): string {
  return template.replace('{layer}', String(layer));
}
