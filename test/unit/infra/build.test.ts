// Checks the build's own promise: the engine is editor-independent (no `vscode` import anywhere under it).
import * as assert from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('repository layout', () => {
  it('extension/engine imports no vscode', () => {
    const offenders = tsFiles(join(root, 'extension', 'engine')).filter((f) =>
      /from ['"]vscode['"]|require\(['"]vscode['"]\)/.test(readFileSync(f, 'utf8')));
    assert.deepStrictEqual(offenders, []);
  });
});
