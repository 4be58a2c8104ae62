// Status bar wording per engine state.
import * as assert from 'node:assert';
import { statusView } from '../../../extension/status/text';

describe('status bar text', () => {
  const base = { inlineEnabled: true, threshold: 0.5 };
  it('shows latency, tokens/s and skip rate once a completion ran', () => {
    const v = statusView({ ...base, state: 'ready', last: { latencyMs: 84.4, tokensPerSec: 31.2, skipRate: 0.274, tokens: 12 } });
    assert.strictEqual(v.text, '$(zap) 84 ms · 31 tok/s · skip 27%');
    assert.match(v.tooltip, /12 tokens, 31\.2 tok\/s, 27% of sublayers skipped/);
  });
  it('marks loading, generating, errors and the off switch', () => {
    assert.match(statusView({ ...base, state: 'loading' }).text, /sync~spin.*loading/);
    assert.match(statusView({ ...base, state: 'generating' }).text, /loading~spin/);
    const e = statusView({ ...base, state: 'error', error: 'worker crashed' });
    assert.ok(e.error);
    assert.match(e.tooltip, /Error: worker crashed/);
    assert.match(statusView({ ...base, inlineEnabled: false, state: 'no-model' }).text, /no model \(off\)/);
    assert.match(statusView({ ...base, threshold: 0, state: 'ready' }).tooltip, /Routing: dense/);
  });
});
