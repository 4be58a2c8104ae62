// The skip-rate panel and the routing inspector in the real workbench: their content is read from the DOM of the
// webview frames (by the driver, with screenshots) and compared with the traces the extension recorded.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { skipRateForThreshold, thresholdForSkipRate } from '../../../extension/engine/sparsity';
import { act, ARTIFACTS, census, getApi, openAt, TINY_LAYERS, waitFor } from './helpers';

describe('webviews', () => {
  it('panel streams a routed and a dense run with per-token skip bars and a summary', async () => {
    const api = await getApi();
    await openAt('sample.js', 7);                               // inside `sum`, after `for (const x of xs) {`
    const runs = api.panelRuns.length;
    await vscode.commands.executeCommand('skipgpt.openPanel', { run: true, withDense: true });
    await waitFor(() => api.panelRuns.length > runs, 90000, 'the panel to finish both runs');
    const { routed, dense } = api.panelRuns[api.panelRuns.length - 1];
    assert.strictEqual(routed, api.host.lastTrace()!.tokens.length);
    assert.ok(dense > 0, 'the dense run produced tokens');
    // The frame's DOM: one token span per routed and per dense token.
    const c = await waitFor(async () => { const x = await census('panel', 'panel'); return x?.tokens === routed + dense && x; }, 20000,
      `the panel to show ${routed} + ${dense} tokens`, 500);
    assert.strictEqual(c.routedTokens, routed, 'one token span per routed token');
    assert.strictEqual(c.bars, 2 * c.tokens, 'two bars (attention, MLP) per token');
    assert.strictEqual(c.styledBars, c.bars, 'bar widths applied under the strict CSP');
    assert.strictEqual(c.error, '');
    assert.match(c.summary, /tokens\/s/);
    assert.match(c.summary, /attention skipped/);
    assert.match(c.summary, /MLP skipped/);
    assert.match(c.summary, /weights read vs dense/);
    assert.match(c.divergence, /diverges from dense at token \d+|agree on every token/);
    assert.match(c.csp, /default-src 'none'/);
    assert.match(c.csp, /script-src 'nonce-[A-Za-z0-9+/=]+'/);
    const hover = await act('panel', 'hover-first-token');
    assert.strictEqual(hover.visible, true, 'hover card shown');
    assert.strictEqual(hover.rows, 1 + TINY_LAYERS, 'one row per layer with decisions and probabilities');
    // The Run button posts `run` to the host, which validates it and streams a new routed run.
    const before = api.panelRuns.length;
    await act('panel', 'click', 'run-routed');
    await waitFor(() => api.panelRuns.length > before, 60000, 'a run started from the webview button');
    // The hovered token was replaced by the new run, so its card must not stay on screen.
    await waitFor(async () => (await act('panel', 'hover-state')).visible === false, 10000, 'the hover card to go with its token');
  });

  it('inspector: heatmap cells = tokens × layers, session bars per layer, skip-rate and threshold re-runs, JSON/CSV export', async () => {
    const api = await getApi();
    await vscode.commands.executeCommand('skipgpt.openInspector');
    const tokens = api.host.lastTrace()!.tokens.length;
    const c = await waitFor(async () => { const x = await census('inspector', 'inspector'); return x?.cells === tokens * TINY_LAYERS && x; },
      60000, 'the inspector to render the latest trace', 500);
    assert.strictEqual(c.colHeads, tokens);
    assert.strictEqual(c.sessionBars, TINY_LAYERS);
    assert.strictEqual(c.styledBars, 2 * TINY_LAYERS, 'session bars sized under the strict CSP');
    const routedSkips = c.skippedHalves;
    const click = await act('inspector', 'click-last-token');
    assert.strictEqual(click.rows, 1 + TINY_LAYERS);
    assert.match(String(click.title), new RegExp(`^Token ${tokens - 1}:`));

    // The tiny model has a calibration, so the slider speaks in skip rates: moving it to 0.3 posts `rerun` with a
    // 30% target; the host re-runs the last request with that skipRate (and its prompt's routing), and the engine maps
    // it through the calibration to the threshold the trace reports.
    const cal = { router: { calibration: api.host.info()!.calibration } };
    assert.ok(cal.router.calibration, 'the tiny fixture carries a calibration');
    const at30 = thresholdForSkipRate(cal, 0.3).threshold;
    const prevTrace = api.host.lastTrace();
    await act('inspector', 'slider', '0.3');
    await waitFor(() => api.host.lastTrace() !== prevTrace && api.host.lastTrace()?.request.skipRate === 0.3, 60000, 'a re-run at 30% from the slider');
    assert.strictEqual(api.host.lastTrace()!.threshold, at30, 'the engine ran at the calibrated threshold of 30%');
    assert.ok((api.host.lastTrace()!.promptTokens?.length ?? 0) > 0, 'the inspector\'s re-run traces its prompt');
    const short = (t: number) => String(t === 0 || t >= 0.001 ? Number(t.toPrecision(3)) : t.toExponential(1));
    const rate = await waitFor(async () => { const x = await census('inspector', 'inspector-rate'); return /at target skip 30\.0%/.test(x?.info ?? '') && x; },
      30000, 'the inspector to show the re-run at 30%', 500);
    assert.deepStrictEqual([rate.slider, rate.sliderCaption], ['0.3', `30.0% skipped · threshold ${short(at30)}`]);
    // Slider and caption always agree with the trace shown: a completion at the model's default moves both back, to
    // the rate the calibration gives for that threshold.
    await api.host.complete({ prompt: 'def f(x):\n    return', maxTokens: 4 });
    const agree = await waitFor(async () => { const x = await census('inspector', 'inspector-agree'); return /at threshold 0\.5\b/.test(x?.info ?? '') && x; },
      30000, 'the inspector to show the completion at the default threshold', 500);
    const r05 = Math.round(skipRateForThreshold(cal, 0.5).skip * 100) / 100;
    assert.deepStrictEqual([agree.slider, agree.sliderCaption], [String(r05), `${(r05 * 100).toFixed(1)}% skipped · threshold 0.5`]);

    // Threshold 0 = dense: nothing skipped; above 1 every sublayer is skipped (the routers' rule, in the engine); the
    // slider shows 0% and 100%.
    for (const [threshold, expectSkipped, slider] of [[0, 0, '0'], [1.01, 2, '1']] as const) {
      await api.host.rerun(threshold);
      const n = api.host.lastTrace()!.tokens.length;
      const caption = `${(Number(slider) * 100).toFixed(1)}% skipped · threshold ${threshold}`;
      const x = await waitFor(async () => {
        const y = await census('inspector', `inspector-t${Math.round(threshold * 100)}`);
        return y?.cells === n * TINY_LAYERS && y.skippedHalves === expectSkipped * y.cells && y.sliderCaption === caption && y;
      }, 60000, `the re-run at ${threshold} in the heatmap`, 500);
      assert.strictEqual(x.slider, slider);
    }
    console.log(`inspector: ${tokens} tokens × ${TINY_LAYERS} layers, ${routedSkips} skipped halves at the configured threshold`);

    const csv = path.join(ARTIFACTS, 'trace.csv');
    const json = path.join(ARTIFACTS, 'trace.json');
    await vscode.commands.executeCommand('skipgpt.exportTrace', 'csv', csv);
    await vscode.commands.executeCommand('skipgpt.exportTrace', 'json', json);
    const last = api.host.lastTrace()!;
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.strictEqual(rows.length, 1 + last.tokens.length * TINY_LAYERS);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    assert.strictEqual(j.tokens.length, last.tokens.length);
    assert.strictEqual(j.threshold, 1.01);
  });
});
