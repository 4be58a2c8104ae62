// The one validator of CompleteRequest (protocol.ts), run before any work: a request from the host, the CLI or a
// tool is checked field by field, and a bad one is refused with the field, what it must be and what was received
// (with its type), never silently accepted. A field left undefined means "use the default".
import type { Dims } from './manifest';
import type { CompleteRequest } from './protocol';

/** The model's sizes that bound some fields (manifest dims). */
export type RequestLimits = Pick<Dims, 'max_positions' | 'vocab'>;

/** A received value for an error message: its type and a short rendering (never a whole prompt). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  switch (typeof v) {
    case 'string': return v.length <= 40 ? `the string ${JSON.stringify(v)}`
      : `the string ${JSON.stringify(v.slice(0, 40))}… (${v.length} characters)`;
    case 'number': case 'boolean': return `the ${typeof v} ${v}`;
    case 'bigint': return `the bigint ${v}n`;
    case 'object': return 'an object';
    default: return `a ${typeof v}`;
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

type Rule = [expected: (lim: RequestLimits) => string, ok: (v: unknown, lim: RequestLimits) => boolean];

/** One rule per field; Record over keyof CompleteRequest makes a field added to the protocol fail to compile here. */
const RULES: Record<keyof CompleteRequest, Rule> = {
  prompt: [() => 'a string', (v) => typeof v === 'string'],
  prefix: [() => 'a string', (v) => typeof v === 'string'],
  suffix: [() => 'a string', (v) => typeof v === 'string'],
  ids: [() => 'an array of token ids', (v) => Array.isArray(v)],  // elements checked below, with their index
  maxTokens: [(l) => `a positive integer below the model's ${l.max_positions} positions`,
    (v, l) => isInt(v) && v >= 1 && v < l.max_positions],
  threshold: [() => 'a number >= 0', (v) => typeof v === 'number' && v >= 0],  // Infinity = skip every sublayer
  skipRate: [() => 'a number from 0 to 1', (v) => isNum(v) && v >= 0 && v <= 1],
  temperature: [() => 'a finite number >= 0', (v) => isNum(v) && v >= 0],
  topP: [() => 'a number > 0 and <= 1', (v) => isNum(v) && v > 0 && v <= 1],
  seed: [() => 'an integer', (v) => isInt(v)],
  stop: [() => 'an array of non-empty strings', (v) => Array.isArray(v)],
  reusePrefix: [() => 'a boolean', (v) => typeof v === 'boolean'],
  draftTokens: [() => 'an integer >= 0', (v) => isInt(v) && v >= 0],
  heal: [() => 'a boolean', (v) => typeof v === 'boolean'],
  filename: [() => 'a string', (v) => typeof v === 'string'],
  budget: [(l) => `a positive integer up to the model's ${l.max_positions} positions`,
    (v, l) => isInt(v) && v >= 1 && v <= l.max_positions],
  tracePrompt: [() => 'a boolean', (v) => typeof v === 'boolean'],
};

/** Throw an Error naming the first bad field of `req`; returns it typed when every field is valid. */
export function validateRequest(req: unknown, lim: RequestLimits): CompleteRequest {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    throw new Error(`the request must be an object, got ${describeValue(req)}`);
  }
  const r = req as Record<string, unknown>;
  for (const [field, [expected, ok]] of Object.entries(RULES)) {
    const v = r[field];
    if (v !== undefined && !ok(v, lim)) throw new Error(`${field} must be ${expected(lim)}, got ${describeValue(v)}`);
  }
  const ids = r.ids as unknown[] | undefined, stop = r.stop as unknown[] | undefined;
  for (let i = 0; ids && i < ids.length; i++) {
    if (!isInt(ids[i]) || (ids[i] as number) < 0 || (ids[i] as number) >= lim.vocab) {
      throw new Error(`ids[${i}] must be a token id (an integer from 0 to ${lim.vocab - 1}), got ${describeValue(ids[i])}`);
    }
  }
  stop?.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) throw new Error(`stop[${i}] must be a non-empty string, got ${describeValue(s)}`);
  });
  if (r.threshold !== undefined && r.skipRate !== undefined) throw new Error('give threshold or skipRate, not both');
  const given = (['prompt', 'prefix', 'ids'] as const).filter((k) => r[k] !== undefined);
  if (given.length > 1) throw new Error(`give one of prompt, prefix or ids, got ${given.join(' and ')}`);
  // The suffix is only read next to a prefix; with a prompt or ids it would be silently dropped.
  if (r.suffix !== undefined && r.prefix === undefined) throw new Error('suffix goes with prefix, not with prompt or ids');
  for (const k of ['filename', 'budget'] as const) {
    if (r[k] !== undefined && r.prefix === undefined) throw new Error(`${k} goes with prefix, not with prompt or ids`);
  }
  return r as CompleteRequest;
}
