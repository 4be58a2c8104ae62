// Webview message validation: exactly the WebviewToHost shapes pass, anything else is dropped.
import * as assert from 'node:assert';
import { SKIP_ALL_THRESHOLD } from '../../../extension/completion/settings';
import { parseWebviewMessage, tokenView } from '../../../extension/webviews/protocol';
import { trace } from './fakeEngine';

describe('webview messages', () => {
  it('accepts the known messages', () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: 'ready', view: 'panel' }), { type: 'ready', view: 'panel' });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'run', withDense: true }), { type: 'run', withDense: true });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'rerun', threshold: 0.7 }), { type: 'rerun', threshold: 0.7 });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'export', format: 'csv' }), { type: 'export', format: 'csv' });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'rerun', threshold: SKIP_ALL_THRESHOLD }), { type: 'rerun', threshold: SKIP_ALL_THRESHOLD });
  });

  it('rejects unknown types, wrong field types, out-of-range values and extra keys', () => {
    for (const bad of [null, 'ready', [], { type: 'eval', code: 'x' }, { type: 'ready', view: 'other' },
      { type: 'run', withDense: 'yes' }, { type: 'rerun', threshold: 2 }, { type: 'rerun', threshold: SKIP_ALL_THRESHOLD + 0.01 }, { type: 'rerun', threshold: NaN },
      { type: 'rerun', threshold: -0.1 }, { type: 'export', format: 'xml' }, { type: 'ready', view: 'panel', extra: 1 },
      { type: 'rendered', view: 'panel', tokens: 1, layers: 2, cells: 2 }]) {
      assert.strictEqual(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
    }
  });

  it('turns a token trace into plain arrays for postMessage', () => {
    const v = tokenView(trace('x', 5, 3), 2);
    assert.deepStrictEqual(v, { i: 2, id: 5, text: 'x', attn: [0, 1, 0], mlp: [1, 1, 1], pAttn: [0.1, 0.9, 0.1], pMlp: [0.8, 0.8, 0.8], ms: 10 });
  });
});
