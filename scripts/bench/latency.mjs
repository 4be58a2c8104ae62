// Benchmark: editor-like completion latency through EngineClient (worker thread, as in VS Code): a ~1,000-token
// source file is open, one new line is typed, 24 tokens are completed. Prefix reuse (only the new tokens are
// prefilled) vs cold (whole file prefilled), alternated line by line in one run; p50/p95 of time to first token
// and to the full completion; and the process RSS the engine adds with the model loaded.
// Usage: npm run bench:latency -- [--model DIR] [--threads 2] [--lines 12] [--tokens 24] [--file-tokens 1000] [--prefill-chunk 64]
import { args, codeFile, engine, machine, percentile } from './common.mjs';

const a = args({ model: 'models/smollm2-135m-skip25-int8', threads: '2', lines: '12', tokens: '24', 'file-tokens': '1000', 'prefill-chunk': '64' });
const threads = Number(a.threads), nLines = Number(a.lines), maxTokens = Number(a.tokens);
const { EngineClient, TextTokenizer, workerPath } = engine();

const mb = (b) => (b / 2 ** 20).toFixed(0);
// The benchmark's own tokenizer (to build the file text) is created before the baseline, so the RSS the engine
// adds counts only the worker's model, tokenizer, KV cache and arena.
const tok = TextTokenizer.fromFile(`${a.model}/tokenizer.json`);
const rss0 = process.memoryUsage().rss;
const client = new EngineClient({ workerPath });
const info = await client.load(a.model, { executionProvider: 'cpu', threads, prefillChunk: Number(a['prefill-chunk']) });
const rssLoaded = process.memoryUsage().rss;

// The open file: the first ~file-tokens tokens of a real source file, cut at a line end; then the lines that follow.
const text = codeFile().repeat(3);
const ids = tok.encode(text);
let base = tok.decode(ids.slice(0, Number(a['file-tokens'])));
base = base.slice(0, base.lastIndexOf('\n') + 1);
const rest = text.slice(base.length).split('\n').filter((l) => l.trim().length > 0).slice(0, nLines);
if (rest.length < nLines) throw new Error('source file too short for --lines');

async function timed(prefix, reusePrefix) {
  const t0 = performance.now();
  let first = NaN;
  const r = await client.complete({ prefix, maxTokens, threshold: undefined, stop: [], reusePrefix },
    { onToken: () => { if (Number.isNaN(first)) first = performance.now() - t0; } });
  return { total: performance.now() - t0, first, prefilled: r.timings.prefillTokens, reused: r.timings.reusedTokens, n: r.tokens.length };
}

await timed(base, true); // the file was already open and completed once
const rssAfterLong = process.memoryUsage().rss;
const warm = [], cold = [];
let doc = base;
for (const line of rest) {
  doc += `${line}\n`;
  warm.push(await timed(doc, true));
  cold.push(await timed(doc, false));
}
const rssEnd = process.memoryUsage().rss;

const stat = (xs, f) => `${percentile(xs.map(f), 50).toFixed(0)} / ${percentile(xs.map(f), 95).toFixed(0)}`;
console.log(`# completion latency with prefix reuse\n\nmachine: ${machine(threads)}`);
console.log(`command: node scripts/bench/latency.mjs ${process.argv.slice(2).join(' ')}`);
console.log(`model ${info.name} (${info.executionProvider}), file ${tok.encode(base).length} tokens, ${rest.length} typed lines, ${maxTokens} tokens per completion, default threshold\n`);
console.log('| mode | prefilled tokens (median) | first token ms p50 / p95 | full completion ms p50 / p95 |');
console.log('|---|---|---|---|');
for (const [name, xs] of [['prefix reuse', warm], ['cold (no reuse)', cold]]) {
  console.log(`| ${name} | ${percentile(xs.map((x) => x.prefilled), 50)} | ${stat(xs, (x) => x.first)} | ${stat(xs, (x) => x.total)} |`);
}
console.log(`\nRSS (whole process, engine in a worker thread): before ${mb(rss0)} MiB, model loaded ${mb(rssLoaded)} MiB, ` +
  `after a ${tok.encode(base).length}-token completion ${mb(rssAfterLong)} MiB, end ${mb(rssEnd)} MiB; ` +
  `engine adds ${mb(rssEnd - rss0)} MiB`);
await client.dispose();
