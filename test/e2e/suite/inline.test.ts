// Inline completions in the real extension host with the committed tiny model through the real engine process:
// a suggestion appears and is accepted, the status bar reports it, and a burst of keystrokes never leaves a stale one.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { applyPolicy, policyContext } from '../../../extension/completion/multiline';
import { suggestionRequest } from '../../../extension/completion/request';
import { parseSettings } from '../../../extension/completion/settings';
import { getApi, openAt, revert, sleep, TINY, TINY_LAYERS, waitFor } from './helpers';

/** What the extension should suggest for this editor state, computed directly through the engine (greedy = deterministic). */
async function expectedSuggestion(editor: vscode.TextEditor): Promise<string> {
  const api = await getApi();
  const doc = editor.document;
  const offset = doc.offsetAt(editor.selection.active);
  const prefix = doc.getText().slice(0, offset), suffix = doc.getText().slice(offset);
  const c = vscode.workspace.getConfiguration('skipgpt');
  const s = parseSettings((k) => c.get(k));
  const info = api.host.info()!;
  // The same request the pipeline sends; the engine builds the same prompt window from it.
  const req = suggestionRequest({ prefix, suffix, filename: vscode.workspace.asRelativePath(doc.uri, false) }, s,
    { specialTokens: info.specialTokens, thresholdDefault: info.thresholdDefault, calibration: info.calibration });
  const r = await api.host.complete(req, { record: false });
  return applyPolicy(r.text, policyContext(prefix, suffix, s.maxLines)).text;
}

async function acceptSuggestion(doc: vscode.TextDocument, before: string): Promise<void> {
  const api = await getApi();
  await waitFor(async () => {
    // An open IntelliSense list hides inline suggestions that do not extend its selected item.
    await vscode.commands.executeCommand('hideSuggestWidget');
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(300);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    return doc.getText() !== before;
  }, 30000, `the inline suggestion ${JSON.stringify(api.lastInline?.text)} to be accepted`, 150);
}

describe('inline completions (tiny fixture model, real engine)', () => {
  it('activates and loads the model from user settings in the engine process', async () => {
    const api = await getApi();
    console.log(`VS Code ${vscode.version}, Node ${process.versions.node}, remote ${vscode.env.remoteName}`);
    await waitFor(() => api.host.ensureLoaded(), 60000, 'the model to load');
    assert.strictEqual(api.host.modelDir(), TINY);
    const pid = api.host.pid();
    assert.ok(pid && pid !== process.pid, `engine in its own process (pid ${pid}, host ${process.pid})`);
    const info = api.host.info()!;
    assert.strictEqual(info.dims.layers, TINY_LAYERS);
    assert.ok(info.specialTokens.includes('<filename>'), 'special tokens from the engine (LoadInfo)');
    assert.strictEqual(info.thresholdDefault, 0.5, 'the manifest\'s default threshold reaches the host');
    assert.match(api.host.status().text, /\$\(zap\)/);
    assert.match(api.host.status().tooltip, /threshold 0\.5/, 'no threshold setting: the model\'s default is shown');
  });

  it('shows a suggestion produced by the model and Tab-accepts it', async () => {
    const api = await getApi();
    const editor = await openAt('sample.py', 15);              // end of `    def increment(self):`
    const doc = editor.document;
    const before = doc.getText();
    const at = doc.offsetAt(editor.selection.active);
    const expected = await expectedSuggestion(editor);
    assert.ok(expected.length > 0, 'the tiny model produces a non-empty suggestion here');
    const calls = api.inlineCalls;
    await vscode.commands.executeCommand('skipgpt.completeAtCursor');
    const fromModel = await waitFor(() => api.inlineCalls > calls && api.lastInline?.source === 'model' && api.lastInline,
      30000, 'a model suggestion');
    // expectedSuggestion() ran the same prompt just before: the engine reuses that KV prefix.
    assert.ok((fromModel.result?.timings?.reusedTokens ?? 0) > 0, `prefix reuse: ${JSON.stringify(fromModel.result?.timings)}`);
    await acceptSuggestion(doc, before);
    assert.strictEqual(doc.getText(), before.slice(0, at) + expected + before.slice(at));
    const out = api.lastInline!;
    assert.ok(['model', 'cache'].includes(out.source));
    const trace = api.host.lastTrace()!;
    assert.ok(trace.tokens.length > 0 && trace.tokens.every((t) => t.attn.length === TINY_LAYERS && t.pMlp.length === TINY_LAYERS));
    assert.ok(trace.prompt.startsWith('<filename>sample.py\n'), 'prompt carries the model\'s <filename> token');
    assert.match(api.host.status().text, /\d+ ms · \d+ tok\/s · skip \d+%/);
    await revert(editor);
  });

  it('a burst of keystrokes: earlier requests are dropped, the suggestion shown matches the final text', async () => {
    const api = await getApi();
    const editor = await openAt('sample.js');                  // end of `function mean(xs) {`
    const doc = editor.document;
    const h0 = api.inline.length;
    for (const ch of '\n  const n = xs.length;\n  re') {
      await vscode.commands.executeCommand('type', { text: ch });
      await sleep(8);
    }
    const finalText = doc.getText();
    const expected = await expectedSuggestion(editor);
    await vscode.commands.executeCommand('skipgpt.completeAtCursor');
    const seen = await waitFor(() => api.inline.slice(h0).filter((x) => x.shown && x.version === doc.version).length,
      30000, 'a suggestion for the final text');
    assert.ok(seen >= 1);
    const recent = api.inline.slice(h0);
    assert.ok(recent.some((x) => x.reason === 'cancelled' || x.reason === 'superseded'), 'requests overtaken by typing were cancelled');
    console.log('burst requests:', JSON.stringify(recent.map((x) => [x.version, x.reason ?? 'shown'])));
    if (expected.length > 0) {
      await acceptSuggestion(doc, finalText);
      assert.strictEqual(doc.getText().slice(0, finalText.length + expected.length), finalText + expected, 'accepted text is the fresh suggestion');
    }
    await revert(editor);
  });

  it('focusing a file primes the engine, so the first suggestion there prefills only its last token', async () => {
    const api = await getApi();
    // VS Code asks the provider by itself (the last test's revert is an edit): let those foreground runs finish first.
    await waitFor(async () => { const c = api.inlineCalls; await sleep(800); return api.host.state() === 'ready' && api.inlineCalls === c; },
      30000, 'no suggestion being computed');
    const calls0 = api.inlineCalls;
    await openAt('sample.js');                                 // focus moves away and back: a fresh prime of sample.py
    const n = api.primes.length, g0 = api.generating.length;
    const editor = await openAt('sample.py', 9);               // end of `    return fibonacci(n - 1) + ...`
    const outcome = await waitFor(() => api.primes.slice(n).find((o) => o === 'primed'), 30000, 'a prime of sample.py');
    assert.strictEqual(outcome, 'primed');
    // Each suggestion request may show 'generating' once; the prime must add none.
    const asked = api.inlineCalls - calls0, generating = api.generating.slice(g0).filter((x) => x).length;
    assert.ok(generating <= asked, `a background prime never shows as generating: ${generating} starts, ${asked} suggestion requests, `
      + `outcomes ${JSON.stringify(api.primes.slice(n))}`);
    const calls = api.inlineCalls;
    await vscode.commands.executeCommand('skipgpt.completeAtCursor');
    const out = await waitFor(() => api.inlineCalls > calls && api.lastInline?.source === 'model' && api.lastInline,
      30000, 'a model suggestion');
    const t = out.result?.timings;
    assert.ok(t && t.prefillTokens === 1 && t.reusedTokens > 20, `the primed prompt was reused: ${JSON.stringify(t)}`);
    await revert(editor);
  });
});
