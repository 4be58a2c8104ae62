// Load-time check of a model folder's files against manifest.json "integrity" (written by the exporter): each file's
// size and a sampled SHA-256 that reads at most 1 MiB per file, so every load can afford it. A truncated, zero-filled
// (sparse) or mixed-up weights file is refused by name instead of crashing onnxruntime or generating garbage.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One file's entry in manifest.json "integrity" (keyed by its name relative to the model folder). */
export interface FileIntegrity { size: number; sha256: string; sample_sha256: string }

/** Files up to this size are hashed whole; larger ones by SAMPLE_BLOCKS blocks of SAMPLE_BLOCK bytes. */
export const SAMPLE_WHOLE_MAX = 1048576;
export const SAMPLE_BLOCK = 65536;
export const SAMPLE_BLOCKS = 16;

/** Where the sampled blocks of a file of `size` (> SAMPLE_WHOLE_MAX) bytes start: evenly spread, first at 0, last at the end. */
export function sampleOffsets(size: number): number[] {
  return Array.from({ length: SAMPLE_BLOCKS }, (_, i) => Math.floor((i * (size - SAMPLE_BLOCK)) / (SAMPLE_BLOCKS - 1)));
}

/** Read exactly `buf.length` bytes at `pos` (readSync may return fewer). */
function readAt(fd: number, buf: Buffer, pos: number): void {
  for (let got = 0; got < buf.length;) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) throw new Error('file ended while it was being read');
    got += n;
  }
}

/**
 * The file's size and sample_sha256 (hex): sha256 of the whole file up to 1 MiB, else sha256 of the concatenated
 * 16 blocks of 64 KiB at sampleOffsets(size). Same definition as the exporter (training/skipgpt/export).
 */
export function sampleSha256(path: string): { size: number; sample: string } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size, hash = createHash('sha256');
    if (size <= SAMPLE_WHOLE_MAX) {
      const buf = Buffer.alloc(size);
      readAt(fd, buf, 0);
      hash.update(buf);
    } else {
      const buf = Buffer.alloc(SAMPLE_BLOCK);
      for (const at of sampleOffsets(size)) { readAt(fd, buf, at); hash.update(buf); }
    }
    return { size, sample: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** What is wrong with the file at `path` against its manifest entry, or undefined when it matches. */
export function integrityProblem(path: string, want: FileIntegrity): string | undefined {
  const got = sampleSha256(path);
  const cause = 'the file is damaged or from another build';
  if (got.size !== want.size) return `${path} is ${got.size} bytes, the manifest says ${want.size}; ${cause}`;
  if (got.sample !== want.sample_sha256) {
    return `${path} does not match its checksum in the manifest (sample_sha256 ${got.sample.slice(0, 12)}…, ` +
      `expected ${want.sample_sha256.slice(0, 12)}…); ${cause}`;
  }
  return undefined;
}

/** Whether `v` has the shape of a FileIntegrity entry (sizes are byte counts, hashes 64 lowercase hex digits). */
export function isFileIntegrity(v: unknown): v is FileIntegrity {
  const hex = (x: unknown) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x);
  const e = v as Record<string, unknown>;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(e.size) && (e.size as number) >= 0 &&
    hex(e.sha256) && hex(e.sample_sha256);
}
