// Strict manifest reader and load-time errors: damaged copies of the fixture give clear Errors, never a crash.
import * as assert from 'node:assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest, readModelFolder } from '../../../extension/engine/manifest';
import { ModelRunner } from '../../../extension/engine/runner';
import { copyFixture, tinyDir } from './fixture';

const good = () => JSON.parse(readFileSync(join(tinyDir, 'manifest.json'), 'utf8')) as Record<string, any>;

describe('engine/manifest', () => {
  it('reads the fixture', () => {
    const f = readModelFolder(tinyDir);
    assert.strictEqual(f.manifest.format_version, 1);
    assert.ok(f.manifest.dims.layers >= 1);
    assert.ok(f.modelPath.endsWith('model.onnx'));
  });

  it('rejects an unknown format_version, naming it and how to rebuild', () => {
    const m = good(); m.format_version = 2;
    assert.throws(() => parseManifest(m, 'x/manifest.json'), /x\/manifest\.json: format_version 2 is not supported.*skipgpt build/);
  });

  it('rejects another format', () => {
    const m = good(); m.format = 'onnx-genai';
    assert.throws(() => parseManifest(m), /format is "onnx-genai"/);
  });

  it('names a missing or mistyped field', () => {
    const m = good(); delete m.dims.kv_heads;
    assert.throws(() => parseManifest(m), /missing field "dims\.kv_heads"/);
    const n = good(); n.io.logits = 3;
    assert.throws(() => parseManifest(n), /field "io\.logits" should be str/);
    const o = good(); o.special_tokens.eos_id = 1.5;
    assert.throws(() => parseManifest(o), /special_tokens\.eos_id/);
  });

  it('ignores unknown extra keys (additive fields keep version 1)', () => {
    const m = good(); m.something_new = { a: 1 };
    assert.doesNotThrow(() => parseManifest(m));
  });
});

describe('engine load errors on damaged model folders', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => { tmp = copyFixture(); });
  afterEach(() => tmp.cleanup());

  it('missing tokenizer.json', async () => {
    rmSync(join(tmp.dir, 'tokenizer.json'));
    await assert.rejects(ModelRunner.load(tmp.dir, { executionProvider: 'cpu' }), /tokenizer\.json \(manifest files\.tokenizer\) is missing.*rebuild/);
  });

  it('wrong manifest version', async () => {
    const m = good(); m.format_version = 99;
    writeFileSync(join(tmp.dir, 'manifest.json'), JSON.stringify(m));
    await assert.rejects(ModelRunner.load(tmp.dir), /format_version 99 is not supported/);
  });

  it('manifest that is not JSON', async () => {
    writeFileSync(join(tmp.dir, 'manifest.json'), '{"format": ');
    await assert.rejects(ModelRunner.load(tmp.dir), /manifest\.json: not valid JSON/);
  });

  // Damaged files: the manifest's "integrity" names them; an older folder without it gets onnxruntime's refusal.
  const withoutIntegrity = () => { const m = good(); delete m.integrity; writeFileSync(join(tmp.dir, 'manifest.json'), JSON.stringify(m)); };

  it('corrupt model.onnx', async () => {
    const p = join(tmp.dir, 'model.onnx');
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length / 3)));
    if (good().integrity) await assert.rejects(ModelRunner.load(tmp.dir), /model\.onnx is \d+ bytes, the manifest says \d+.*rebuild/);
    withoutIntegrity();
    await assert.rejects(ModelRunner.load(tmp.dir, { executionProvider: 'cpu' }), /cannot load .*model\.onnx.*rebuild/);
  });

  it('truncated weights file', async () => {
    const p = join(tmp.dir, 'model.onnx.data');
    writeFileSync(p, readFileSync(p).subarray(0, 1000));
    if (good().integrity) await assert.rejects(ModelRunner.load(tmp.dir), /model\.onnx\.data is 1000 bytes.*rebuild/);
    withoutIntegrity();
    await assert.rejects(ModelRunner.load(tmp.dir, { executionProvider: 'cpu' }), /cannot load .*rebuild/);
  });

  it('missing folder', async () => {
    await assert.rejects(ModelRunner.load(join(tmp.dir, 'nope')), /does not exist.*skipgpt build/);
  });
});
