// manifest.json "integrity": every listed file's size and sampled SHA-256 are checked at load, before onnxruntime
// reads the files; folders without it still load. Expected hashes are computed here from the definition, and checked
// once against values computed with Python's hashlib (the exporter's side).
import * as assert from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleSha256 } from '../../../extension/engine/integrity';
import { parseManifest, readModelFolder } from '../../../extension/engine/manifest';
import { ModelRunner } from '../../../extension/engine/runner';
import { copyFixture, tinyDir } from './fixture';

/** The definition, written out again: whole file up to 1 MiB, else 16 blocks of 64 KiB spread from start to end. */
function expectedSample(bytes: Buffer): string {
  const h = createHash('sha256');
  if (bytes.length <= 1048576) return h.update(bytes).digest('hex');
  for (let i = 0; i < 16; i++) {
    const at = Math.floor((i * (bytes.length - 65536)) / 15);
    h.update(bytes.subarray(at, at + 65536));
  }
  return h.digest('hex');
}

function entry(path: string) {
  const bytes = readFileSync(path);
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), sample_sha256: expectedSample(bytes) };
}

const pattern = (size: number) => Buffer.from(Array.from({ length: size }, (_, k) => (k * 7 + (k >> 11)) & 255));

describe('engine/integrity', () => {
  let tmp: { dir: string; cleanup: () => void };
  let weights: string;
  beforeEach(() => {
    tmp = copyFixture();
    weights = join(tmp.dir, 'model.onnx.data');
    const m = JSON.parse(readFileSync(join(tmp.dir, 'manifest.json'), 'utf8'));
    m.integrity = Object.fromEntries(Object.values(m.files as Record<string, string | null>)
      .filter((f): f is string => typeof f === 'string').map((f) => [f, entry(join(tmp.dir, f))]));
    writeFileSync(join(tmp.dir, 'manifest.json'), JSON.stringify(m));
  });
  afterEach(() => tmp.cleanup());

  it('a folder whose files match its integrity entries loads and runs', async () => {
    const runner = await ModelRunner.load(tmp.dir, { executionProvider: 'cpu' });
    try {
      assert.strictEqual((await runner.step([1, 2, 3], 0)).numLogits, 1);
    } finally {
      await runner.dispose();
    }
  });

  it('refuses a zero-filled (sparse) weights file of the right size by its sample hash', async () => {
    const size = readFileSync(weights).length;
    rmSync(weights);
    writeFileSync(weights, '');
    truncateSync(weights, size);
    assert.throws(() => readModelFolder(tmp.dir),
      /model\.onnx\.data does not match its checksum in the manifest \(sample_sha256.*damaged or from another build: rebuild/);
    await assert.rejects(ModelRunner.load(tmp.dir, { executionProvider: 'cpu' }), /model\.onnx\.data does not match its checksum/);
  });

  it('refuses a weights file of another size, naming both sizes', () => {
    const size = readFileSync(weights).length;
    truncateSync(weights, 1000);
    assert.throws(() => readModelFolder(tmp.dir),
      new RegExp(`model\\.onnx\\.data is 1000 bytes, the manifest says ${size}; the file is damaged or from another build`));
  });

  it('refuses a damaged tokenizer.json before parsing it', () => {
    writeFileSync(join(tmp.dir, 'tokenizer.json'), readFileSync(join(tmp.dir, 'tokenizer.json'), 'utf8').replace('"', "'"));
    assert.throws(() => readModelFolder(tmp.dir), /tokenizer\.json does not match its checksum/);
  });

  it('refuses an integrity key outside the folder and malformed entries', () => {
    const m = JSON.parse(readFileSync(join(tmp.dir, 'manifest.json'), 'utf8'));
    m.integrity['../manifest.json'] = m.integrity['model.onnx'];
    writeFileSync(join(tmp.dir, 'manifest.json'), JSON.stringify(m));
    assert.throws(() => readModelFolder(tmp.dir), /integrity key "\.\.\/manifest\.json" points outside the model folder/);
    const bad = { ...m, integrity: { 'model.onnx': { size: 1, sha256: 'x', sample_sha256: 'y' } } };
    assert.throws(() => parseManifest(bad), /integrity\["model\.onnx"\] should be \{size, sha256, sample_sha256\}/);
    assert.throws(() => parseManifest({ ...m, integrity: [] }), /field "integrity" should be obj/);
  });

  it('folders without "integrity" (older exports) and the committed fixture still load', () => {
    const m = JSON.parse(readFileSync(join(tinyDir, 'manifest.json'), 'utf8'));
    delete m.integrity;
    assert.doesNotThrow(() => parseManifest(m));
    assert.doesNotThrow(() => readModelFolder(tinyDir));
    // The exporter's entries in the committed fixture agree with the definition written out above.
    const fixture = JSON.parse(readFileSync(join(tinyDir, 'manifest.json'), 'utf8'));
    for (const [name, e] of Object.entries(fixture.integrity ?? {})) assert.deepStrictEqual(e, entry(join(tinyDir, name)), name);
  });

  it('sampleSha256 follows the definition: whole file up to 1 MiB, 16 spread 64 KiB blocks above', () => {
    // Known answers from Python: hashlib over the same bytes and blocks.
    const known: Record<number, string> = {
      1048576: '4e08f71137d5420af99b99419ef116fed281f1eb0f1f6c49777f0b4a99e92c17',
      1048577: 'a8bfdd975529bc89989f8ff8506cc7973256aa428b16c252e28ac5644bd0ebcc',
      3000000: '89dc17fc459a0be31006a56486c87ffa5c37a97ee1274dff49e1343af63ad5c1',
    };
    for (const [size, hex] of Object.entries(known)) {
      const p = join(tmp.dir, `pattern-${size}.bin`), bytes = pattern(Number(size));
      writeFileSync(p, bytes);
      assert.strictEqual(expectedSample(bytes), hex);
      assert.deepStrictEqual(sampleSha256(p), { size: Number(size), sample: hex });
    }
  });
});
