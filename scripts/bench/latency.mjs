// Benchmark: editor-like completion latency through EngineClient (engine process, as in VS Code): a ~1,000-token
// source file is open, one new line is typed, 24 tokens are completed. Prefix reuse (only the new tokens are
// prefilled) vs cold (whole file prefilled), alternated line by line in one run; p50/p95 of time to first token
// and to the full completion; and the process RSS the engine adds with the model loaded. With --draft K > 0 a third
// mode adds prompt-lookup speculative decoding (up to K drafted tokens a step) to prefix reuse, alternated likewise.
// Usage: npm run bench:latency -- [--model DIR] [--threads 2] [--lines 12] [--tokens 24] [--file-tokens 1000] [--prefill-chunk 64] [--draft 0]
import { readFileSync } from 'node:fs';
import { args, codeFile, engine, machine, percentile } from './common.mjs';

const a = args({ model: 'models/smollm2-135m-skip25-int8', threads: '2', lines: '12', tokens: '24', 'file-tokens': '1000', 'prefill-chunk': '64', draft: '0' });
const threads = Number(a.threads), nLines = Number(a.lines), maxTokens = Number(a.tokens), draftTokens = Number(a.draft);
const { EngineClient, TextTokenizer, enginePath } = engine();

const mb = (b) => (b / 2 ** 20).toFixed(0);
const childRss = (pid) => (pid ? Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024 : 0);
// The benchmark's own tokenizer (to build the file text) is created before the baseline, so the RSS the engine
// adds counts only the engine process (its Node runtime, model, tokenizer, KV cache and arena).
const tok = TextTokenizer.fromFile(`${a.model}/tokenizer.json`);
const rss0 = process.memoryUsage().rss;
const client = new EngineClient({ enginePath });
// This process plus the engine's child process (Linux /proc).
const rss = () => process.memoryUsage().rss + childRss(client.pid);
const info = await client.load(a.model, { executionProvider: 'cpu', threads, prefillChunk: Number(a['prefill-chunk']) });
const rssLoaded = rss();

// The open file: the first ~file-tokens tokens of a real source file, cut at a line end; then the lines that follow.
const text = codeFile().repeat(3);
const ids = tok.encode(text);
let base = tok.decode(ids.slice(0, Number(a['file-tokens'])));
base = base.slice(0, base.lastIndexOf('\n') + 1);
const rest = text.slice(base.length).split('\n').filter((l) => l.trim().length > 0).slice(0, nLines);
if (rest.length < nLines) throw new Error('source file too short for --lines');

async function timed(prefix, reusePrefix, draft = 0) {
  const t0 = performance.now();
  let first = NaN;
  const r = await client.complete({ prefix, maxTokens, threshold: undefined, stop: [], reusePrefix, draftTokens: draft },
    { onToken: () => { if (Number.isNaN(first)) first = performance.now() - t0; } });
  return { total: performance.now() - t0, first, prefilled: r.timings.prefillTokens, reused: r.timings.reusedTokens, n: r.tokens.length,
    text: r.text, drafted: r.timings.draftedTokens, accepted: r.timings.acceptedTokens };
}

await timed(base, true); // the file was already open and completed once
const rssAfterLong = rss();
const warm = [], cold = [], drafted = [];
let doc = base, differ = 0;
for (const line of rest) {
  doc += `${line}\n`;
  warm.push(await timed(doc, true));
  if (draftTokens > 0) {
    // The same request again with drafts: restore the cache state the plain run found (all but the typed line).
    await timed(doc.slice(0, doc.length - line.length - 1), true);
    drafted.push(await timed(doc, true, draftTokens));
    if (drafted.at(-1).text !== warm.at(-1).text) differ++;
  }
  cold.push(await timed(doc, false));
}
const rssEnd = rss();

const stat = (xs, f) => `${percentile(xs.map(f), 50).toFixed(0)} / ${percentile(xs.map(f), 95).toFixed(0)}`;
console.log(`# completion latency with prefix reuse\n\nmachine: ${machine(threads)}`);
console.log(`command: node scripts/bench/latency.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`model ${info.name} (${info.executionProvider}), file ${tok.encode(base).length} tokens, ${rest.length} typed lines, ${maxTokens} tokens per completion, default threshold\n`);
console.log('| mode | prefilled tokens (median) | first token ms p50 / p95 | full completion ms p50 / p95 |');
console.log('|---|---|---|---|');
const modes = [['prefix reuse', warm], ...(draftTokens > 0 ? [[`prefix reuse + lookup drafts (${draftTokens})`, drafted]] : []), ['cold (no reuse)', cold]];
for (const [name, xs] of modes) {
  console.log(`| ${name} | ${percentile(xs.map((x) => x.prefilled), 50)} | ${stat(xs, (x) => x.first)} | ${stat(xs, (x) => x.total)} |`);
}
if (draftTokens > 0) {
  const sum = (f) => drafted.reduce((t, x) => t + f(x), 0);
  console.log(`\nLookup drafts: ${sum((x) => x.accepted)} of ${sum((x) => x.drafted)} drafted tokens accepted; ` +
    `${sum((x) => x.n)} tokens generated; completions differing from plain decoding: ${differ} of ${drafted.length}.`);
}
console.log(`\nRSS (this process + the engine process): before ${mb(rss0)} MiB, model loaded ${mb(rssLoaded)} MiB, ` +
  `after a ${tok.encode(base).length}-token completion ${mb(rssAfterLong)} MiB, end ${mb(rssEnd)} MiB; ` +
  `engine adds ${mb(rssEnd - rss0)} MiB`);
await client.dispose();
