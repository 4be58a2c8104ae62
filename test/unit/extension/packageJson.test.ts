// package.json "contributes" stays in step with the code: settings defaults, registered commands, narrow activation.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, MAX_SKIP_RATE, SETTING_KEYS, SKIP_ALL_THRESHOLD } from '../../../extension/completion/settings';
import { EP_SETTINGS } from '../../../extension/engine/protocol';

const root = join(__dirname, '..', '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('package.json contributions', () => {
  it('declares every setting with the code\'s default, a type and a description', () => {
    const props = pkg.contributes.configuration.properties;
    for (const [field, key] of Object.entries(SETTING_KEYS)) {
      const p = props[`skipgpt.${key}`];
      assert.ok(p, `skipgpt.${key} missing`);
      assert.deepStrictEqual(p.default, DEFAULTS[field as keyof typeof DEFAULTS], `default of skipgpt.${key}`);
      assert.ok(p.type && (p.description || p.markdownDescription), `skipgpt.${key} type/description`);
    }
    assert.deepStrictEqual(Object.keys(props).sort(), Object.values(SETTING_KEYS).map((k) => `skipgpt.${k}`).sort());
    // One skip-all constant: the setting's range ends where the code's does.
    assert.strictEqual(props['skipgpt.threshold'].maximum, SKIP_ALL_THRESHOLD);
    assert.strictEqual(props['skipgpt.skipRate'].maximum, MAX_SKIP_RATE);
    assert.deepStrictEqual(props['skipgpt.executionProvider'].enum, [...EP_SETTINGS]);
  });

  it('contributes exactly the commands the extension registers, all in category SkipGPT', () => {
    const src = readFileSync(join(root, 'extension', 'host', 'commands.ts'), 'utf8');
    const registered = [...src.matchAll(/reg\('(skipgpt\.[\w.]+)'/g)].map((m) => m[1]).sort();
    const declared = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepStrictEqual(declared, registered);
    for (const c of pkg.contributes.commands) assert.strictEqual(c.category, 'SkipGPT');
  });

  it('activates narrowly (no "*", no onStartupFinished)', () => {
    for (const e of pkg.activationEvents) assert.match(e, /^onLanguage:/);
  });
});
