// The skip-rate panel and the routing inspector in the real workbench: their content is checked both from what the
// webview scripts report and from the DOM of the webview frames (read by the driver), and screenshots are saved.
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { act, ARTIFACTS, getApi, openAt, shot, TINY_LAYERS, waitFor } from './helpers';

describe('webviews', () => {
  it('panel streams a routed and a dense run with per-token skip bars and a summary', async () => {
    const api = await getApi();
    await openAt('sample.js', 7);                               // inside `sum`, after `for (const x of xs) {`
    const runs = api.panel()?.runs ?? 0;
    await vscode.commands.executeCommand('skipgpt.openPanel', { run: true, withDense: true });
    const panel = await waitFor(() => api.panel(), 10000, 'the panel');
    await waitFor(() => panel.runs > runs, 90000, 'the panel to finish both runs');
    const [routed, dense] = panel.lastCounts;
    assert.strictEqual(routed, api.host.lastTrace!.tokens.length);
    assert.ok(dense > 0, 'the dense run produced tokens');
    // The webview counts its own token spans after the dense run ends: routed + dense.
    const r = await waitFor(() => panel.lastRendered?.cells === routed + dense && panel.lastRendered, 20000,
      `the panel to show ${routed} + ${dense} tokens (last report ${JSON.stringify(panel.lastRendered)})`);
    assert.strictEqual(r.tokens, routed, 'one token span per routed token');
    const census = (await shot('panel')).find((c) => c.view === 'panel');
    assert.ok(census, 'the panel frame was found');
    assert.strictEqual(census.routedTokens, routed);
    assert.strictEqual(census.bars, 2 * census.tokens, 'two bars (attention, MLP) per token');
    assert.strictEqual(census.styledBars, census.bars, 'bar widths applied under the strict CSP');
    assert.strictEqual(census.error, '');
    assert.match(census.summary, /tokens\/s/);
    assert.match(census.summary, /attention skipped/);
    assert.match(census.summary, /MLP skipped/);
    assert.match(census.summary, /weights read vs dense/);
    assert.match(census.divergence, /diverges from dense at token \d+|agree on every token/);
    assert.match(census.csp, /default-src 'none'/);
    assert.match(census.csp, /script-src 'nonce-[A-Za-z0-9+/=]+'/);
    const hover = await act('panel', 'hover-first-token');
    assert.strictEqual(hover.visible, true, 'hover card shown');
    assert.strictEqual(hover.rows, 1 + TINY_LAYERS, 'one row per layer with decisions and probabilities');
    // The Run button posts `run` to the host, which validates it and streams a new routed run.
    const before = panel.runs;
    await act('panel', 'click', 'run-routed');
    await waitFor(() => panel.runs > before, 60000, 'a run started from the webview button');
    // The hovered token was replaced by the new run, so its card must not stay on screen.
    await waitFor(async () => (await act('panel', 'hover-state')).visible === false, 10000, 'the hover card to go with its token');
  });

  it('inspector: heatmap cells = tokens × layers, session bars per layer, threshold re-runs, JSON/CSV export', async () => {
    const api = await getApi();
    const before = api.inspector.lastRendered;
    await vscode.commands.executeCommand('skipgpt.openInspector');
    const r = await waitFor(() => api.inspector.lastRendered !== before && api.inspector.lastRendered, 60000, 'the inspector to render');
    const tokens = api.host.lastTrace!.tokens.length;
    assert.deepStrictEqual([r.tokens, r.layers, r.cells], [tokens, TINY_LAYERS, tokens * TINY_LAYERS]);
    const census = (await shot('inspector')).find((c) => c.view === 'inspector');
    assert.ok(census, 'the inspector frame was found');
    assert.strictEqual(census.cells, tokens * TINY_LAYERS);
    assert.strictEqual(census.colHeads, tokens);
    assert.strictEqual(census.sessionBars, TINY_LAYERS);
    assert.strictEqual(census.styledBars, 2 * TINY_LAYERS, 'session bars sized under the strict CSP');
    const routedSkips = census.skippedHalves;
    const click = await act('inspector', 'click-last-token');
    assert.strictEqual(click.rows, 1 + TINY_LAYERS);
    assert.match(String(click.title), new RegExp(`^Token ${tokens - 1}:`));

    // The slider posts `rerun`; the host re-runs the last prompt at that threshold and the heatmap follows.
    const prevTrace = api.host.lastTrace;
    await act('inspector', 'slider', '0.3');
    await waitFor(() => api.host.lastTrace !== prevTrace && api.host.lastTrace?.threshold === 0.3, 60000, 'a re-run at 0.3 from the slider');

    // Threshold 0 = dense: nothing skipped; above 1 every sublayer is skipped (the routers' rule, in the engine).
    for (const [threshold, expectSkipped] of [[0, 0], [1.01, 2]] as const) {
      const prev = api.inspector.lastRendered;
      await api.inspector.rerun(threshold);
      const rr = await waitFor(() => api.inspector.lastRendered !== prev && api.inspector.lastRendered, 60000, `re-run at ${threshold}`);
      const c = (await shot(`inspector-t${Math.round(threshold * 100)}`)).find((x) => x.view === 'inspector')!;
      assert.strictEqual(c.cells, rr.tokens * TINY_LAYERS);
      assert.strictEqual(c.skippedHalves, expectSkipped * c.cells, `skipped halves at threshold ${threshold}`);
    }
    console.log(`inspector: ${tokens} tokens × ${TINY_LAYERS} layers, ${routedSkips} skipped halves at the configured threshold`);

    const csv = path.join(ARTIFACTS, 'trace.csv');
    const json = path.join(ARTIFACTS, 'trace.json');
    await vscode.commands.executeCommand('skipgpt.exportTrace', 'csv', csv);
    await vscode.commands.executeCommand('skipgpt.exportTrace', 'json', json);
    const last = api.host.lastTrace!;
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.strictEqual(rows.length, 1 + last.tokens.length * TINY_LAYERS);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    assert.strictEqual(j.tokens.length, last.tokens.length);
    assert.strictEqual(j.threshold, 1.01);
  });
});
