// Model folder choice: trust rules, the bundled default, clear problems when nothing usable is set.
import * as assert from 'node:assert';
import { join } from 'node:path';
import { chooseModelFolder, DEFAULT_MODEL_SUBDIR } from '../../../extension/model/folder';

const ext = '/ext';
const bundled = join(ext, DEFAULT_MODEL_SUBDIR);
const existing = (...paths: string[]) => (p: string) => paths.includes(p);

describe('model folder choice', () => {
  it('uses the workspace value only in a trusted workspace', () => {
    const base = { userValue: '/user/model', workspaceValue: 'models/ws', workspaceFolder: '/repo', extensionPath: ext,
      exists: existing('/user/model', '/repo/models/ws') };
    assert.deepStrictEqual(chooseModelFolder({ ...base, trusted: true }), { dir: '/repo/models/ws', source: 'workspace', ignoredWorkspaceValue: undefined });
    const untrusted = chooseModelFolder({ ...base, trusted: false });
    assert.strictEqual(untrusted.dir, '/user/model');
    assert.strictEqual(untrusted.source, 'user');
    assert.strictEqual(untrusted.ignoredWorkspaceValue, 'models/ws');
  });

  it('untrusted with only a workspace value falls back to the bundled model, never the workspace one', () => {
    const c = chooseModelFolder({ workspaceValue: '/evil', trusted: false, extensionPath: ext, exists: existing('/evil', join(bundled, 'manifest.json')) });
    assert.deepStrictEqual([c.dir, c.source], [bundled, 'default']);
  });

  it('no setting and no bundled model: a problem that says what to do', () => {
    const c = chooseModelFolder({ trusted: true, extensionPath: ext, exists: () => false });
    assert.strictEqual(c.dir, undefined);
    assert.match(c.problem ?? '', /Choose Model Folder/);
  });

  it('a configured folder that does not exist is named in the problem', () => {
    const c = chooseModelFolder({ userValue: '/nope', trusted: true, extensionPath: ext, exists: () => false });
    assert.match(c.problem ?? '', /\/nope .*does not exist/);
  });
});
