// Paths named by manifest.json `files` must stay inside the model folder (symlinks resolved, no absolute paths), and
// load errors never echo the contents of the file they failed on.
import * as assert from 'node:assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelFolder } from '../../../extension/engine/manifest';
import { ModelRunner } from '../../../extension/engine/runner';
import { TextTokenizer } from '../../../extension/engine/tokenizer';
import { tinyDir } from './fixture';

describe('engine/manifest: files stay inside the model folder', () => {
  let tmp: string;
  let model: string;  // the model folder: <tmp>/model, with a second complete folder <tmp>/other beside it
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skipgpt-paths-'));
    model = join(tmp, 'model');
    cpSync(tinyDir, model, { recursive: true });
    cpSync(tinyDir, join(tmp, 'other'), { recursive: true });
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const setFile = (field: string, value: string) => {
    const m = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
    m.files[field] = value;
    writeFileSync(join(model, 'manifest.json'), JSON.stringify(m));
  };

  it('refuses a `..` path to /etc/passwd without showing its contents', async () => {
    setFile('tokenizer', '../../../../../../../../../../etc/passwd');
    const err = await ModelRunner.load(model, { executionProvider: 'cpu' }).then(() => undefined, (e: Error) => e);
    assert.ok(err, 'the load must fail');
    assert.match(err.message, /manifest\.json: files\.tokenizer "\.\.\/.*etc\/passwd" points outside the model folder/);
    assert.doesNotMatch(err.message, /root:/);
  });

  it('refuses another folder\'s model, for every field of `files`', () => {
    for (const [field, name] of [['model', 'model.onnx'], ['weights', 'model.onnx.data'], ['tokenizer', 'tokenizer.json'],
      ['parity', 'parity.json']]) {
      setFile(field, `../other/${name}`);
      assert.throws(() => readModelFolder(model), new RegExp(`files\\.${field} "\\.\\./other/${name.replace(/\./g, '\\.')}" points outside`));
      setFile(field, name);
    }
  });

  it('refuses an absolute path, even one inside the folder', () => {
    setFile('weights', join(model, 'model.onnx.data'));
    assert.throws(() => readModelFolder(model), /files\.weights ".*" is an absolute path/);
  });

  it('refuses a symlink that leads outside the folder', () => {
    rmSync(join(model, 'tokenizer.json'));
    symlinkSync(join(tmp, 'other', 'tokenizer.json'), join(model, 'tokenizer.json'));
    assert.throws(() => readModelFolder(model), /files\.tokenizer "tokenizer\.json" points outside the model folder/);
  });

  it('accepts a symlink that stays inside, and a symlinked model folder', () => {
    mkdirSync(join(model, 'sub'));
    cpSync(join(model, 'tokenizer.json'), join(model, 'sub', 'tok.json'));
    rmSync(join(model, 'tokenizer.json'));
    symlinkSync(join('sub', 'tok.json'), join(model, 'tokenizer.json'));
    symlinkSync(model, join(tmp, 'link'));
    assert.ok(readModelFolder(join(tmp, 'link')).tokenizerPath.endsWith('tokenizer.json'));
  });

  it('a normal folder still loads and runs', async () => {
    const runner = await ModelRunner.load(model, { executionProvider: 'cpu' });
    try {
      const r = await runner.step([1, 5, 9], 0);
      assert.strictEqual(r.numLogits, 1);
    } finally {
      await runner.dispose();
    }
  });

  it('a tokenizer file that is not JSON is named without echoing its contents', () => {
    writeFileSync(join(model, 'secret.txt'), 'root:x:0:0:SECRET');
    assert.throws(() => TextTokenizer.fromFile(join(model, 'secret.txt')), (e: Error) =>
      /secret\.txt is not valid JSON/.test(e.message) && !/root|SECRET/.test(e.message));
  });

  it('a manifest that is not JSON is named without echoing its contents', () => {
    writeFileSync(join(model, 'manifest.json'), 'root:x:0:0:SECRET');
    assert.throws(() => readModelFolder(model), (e: Error) => /not valid JSON/.test(e.message) && !/root|SECRET/.test(e.message));
  });
});
