// Test helpers: where the committed tiny model lives, its parity.json, and throw-away damaged copies of it.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..', '..', '..');
/** The tiny fixture (SKIPGPT_TEST_FIXTURE overrides it, e.g. to try a freshly exported one). */
export const tinyDir = process.env.SKIPGPT_TEST_FIXTURE ?? join(repoRoot, 'test', 'fixtures', 'tiny');
/** The transpiled engine process entry (tests run out/, the extension ships dist/engine-process.js). */
export const enginePath = join(repoRoot, 'out', 'extension', 'engine', 'process.js');
/** The 8-bit default model (built by set-up; tests that need it skip without it). */
export const defaultModelDir = join(repoRoot, 'models', 'smollm2-135m-skip25-int8');

export interface ParityCase {
  name: string; prompt_ids: number[]; threshold: number; logits_vocab: number; logits: number[][];
  last_logits: number[] | null; last_logits_top: { ids: number[]; values: number[] };
  router_probs: number[][][]; decisions: number[][][]; min_prob_margin: number | null;
  greedy: { ids: number[]; min_logit_gap: number | null };
}
export interface Parity {
  model: string; tolerance: { logits_abs: number; router_probs_abs: number };
  tokenizer_cases: { text: string; ids: number[] }[]; cases: ParityCase[];
}

export function readParity(dir: string): Parity {
  return JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8')) as Parity;
}

export function fixturePresent(): boolean {
  return existsSync(join(tinyDir, 'manifest.json'));
}

/** A copy of the fixture in a temp dir (to damage); call the returned cleanup when done. */
export function copyFixture(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'skipgpt-fixture-'));
  cpSync(tinyDir, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
