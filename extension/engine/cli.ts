// `skipgpt` command line (bin: dist/cli.js): generate text with a per-token skip summary, dump routing traces as
// JSON, or a quick threshold sweep of decode speed. Runs the engine in-process (no worker needed in a terminal).
import { parseArgs } from 'node:util';
import { Generator } from './generate';
import type { CompleteRequest, CompleteResult, EpSetting, RoutingTrace } from './protocol';
import { ModelRunner } from './runner';
import { thresholdForSkipRate } from './sparsity';

const USAGE = `usage: skipgpt <generate|trace|bench> --model DIR [options]
  --model DIR          model folder (manifest.json, model.onnx, tokenizer.json); default models/smollm2-135m-skip25-int8
  --prompt TEXT        prompt (generate/trace; bench uses a fixed code prompt unless given)
  --max-tokens N       tokens to generate (default 32)
  --threshold T        router threshold, 0 = dense (default: the manifest's)
  --skip-rate R        instead of --threshold: target fraction of sublayers skipped (0..1), through the model
                       folder's calibration (bench: a comma-separated list, swept instead of --thresholds)
  --temperature T      0 = greedy (default)      --top-p P   nucleus mass (default 1)
  --seed N             sampling seed (default 0) --stop S    stop sequence (repeatable)
  --draft N            greedy: verify up to N prompt-lookup drafted tokens per step (default 0 = off)
  --heal               token healing: the prompt ends at a cursor (re-generate the token it splits, print what follows)
  --ep NAME            auto|cpu|webgpu|dml|coreml|cuda (default auto)
  --threads N          intra-op threads (default: onnxruntime's)
  --thresholds LIST    bench: comma-separated thresholds (default 0,0.5)
  --repeat N           bench: runs per threshold, median reported (default 3)`;

const options = {
  model: { type: 'string', default: 'models/smollm2-135m-skip25-int8' },
  prompt: { type: 'string' },
  'max-tokens': { type: 'string', default: '32' },
  threshold: { type: 'string' },
  'skip-rate': { type: 'string' },
  temperature: { type: 'string', default: '0' },
  'top-p': { type: 'string', default: '1' },
  seed: { type: 'string', default: '0' },
  stop: { type: 'string', multiple: true },
  draft: { type: 'string', default: '0' },
  heal: { type: 'boolean', default: false },
  ep: { type: 'string', default: 'auto' },
  threads: { type: 'string', default: '0' },
  thresholds: { type: 'string', default: '0,0.5' },
  repeat: { type: 'string', default: '3' },
  help: { type: 'boolean', short: 'h' },
} as const;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

const executed = (t: RoutingTrace) => t.attn.reduce((a, b) => a + b, 0) + t.mlp.reduce((a, b) => a + b, 0);

function summary(r: CompleteResult, layers: number): string {
  const lines = r.tokens.map((t, i) => {
    const a = t.attn.reduce((x, y) => x + y, 0), m = t.mlp.reduce((x, y) => x + y, 0);
    return `${String(i).padStart(4)} ${JSON.stringify(t.text).padEnd(18)} attn ${a}/${layers}  mlp ${m}/${layers}  ` +
      `skipped ${(100 * (1 - (a + m) / (2 * layers))).toFixed(0).padStart(3)}%  ${t.ms.toFixed(1)} ms`;
  });
  const total = r.tokens.reduce((s, t) => s + executed(t), 0);
  const tm = r.timings;
  lines.push(`threshold ${r.threshold}: ${(100 * (1 - total / (2 * layers * Math.max(1, r.tokens.length)))).toFixed(1)}% ` +
    `of sublayers skipped; prefill ${tm.prefillTokens} tok in ${tm.prefillMs.toFixed(0)} ms; decode ` +
    `${tm.decodeTokPerS.toFixed(1)} tok/s; finish: ${r.finishReason}` +
    (tm.draftedTokens > 0 ? `; drafts: ${tm.acceptedTokens} of ${tm.draftedTokens} accepted` : ''));
  return lines.join('\n');
}

const plain = (t: RoutingTrace) => ({ id: t.id, text: t.text, attn: [...t.attn], mlp: [...t.mlp],
  pAttn: [...t.pAttn].map((p) => +p.toFixed(5)), pMlp: [...t.pMlp].map((p) => +p.toFixed(5)) });

/** What a requested skip rate became: the threshold, and whether the calibration covers it. */
function describeMapping(runner: ModelRunner, target: number): string {
  const m = thresholdForSkipRate(runner.manifest, target);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `skip rate ${pct(target)} -> threshold ${m.threshold.toPrecision(4)}` + (m.clamped
    ? ` (outside the calibrated range ${pct(m.range[0])}..${pct(m.range[1])}: expect ${pct(m.expected)})`
    : ` (calibrated on held-out code; realised rates vary with the text)`);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const cmd = positionals[0];
  if (v.help || !cmd || !['generate', 'trace', 'bench'].includes(cmd)) {
    console.log(USAGE);
    return v.help ? 0 : 2;
  }
  const runner = await ModelRunner.load(v.model, { executionProvider: v.ep as EpSetting, threads: num('threads', v.threads),
    log: (m) => console.error(m) });
  try {
    const gen = new Generator(runner);
    const req: CompleteRequest = {
      prompt: v.prompt ?? 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
      maxTokens: num('max-tokens', v['max-tokens']), threshold: num('threshold', v.threshold),
      skipRate: cmd === 'bench' ? undefined : num('skip-rate', v['skip-rate']),
      temperature: num('temperature', v.temperature), topP: num('top-p', v['top-p']), seed: num('seed', v.seed),
      stop: v.stop, draftTokens: num('draft', v.draft), heal: v.heal,
    };
    console.error(`model ${runner.manifest.name} on ${runner.executionProvider} (threads ${runner.threads || 'default'}; ` +
      `${runner.providerReason}); passed over: ${runner.passedOver.map((p) => `${p.ep} (${p.reason})`).join('; ') || 'none'}`);
    if (req.skipRate !== undefined) console.error(describeMapping(runner, req.skipRate));
    if (cmd === 'generate') {
      const r = await gen.complete(req);
      console.log(r.text);
      console.log('---');
      console.log(summary(r, runner.layers));
    } else if (cmd === 'trace') {
      const r = await gen.complete({ ...req, tracePrompt: true });
      console.log(JSON.stringify({ threshold: r.threshold, text: r.text, finishReason: r.finishReason,
        prompt: (r.prompt ?? []).map(plain), tokens: r.tokens.map((t) => ({ ...plain(t), ms: +t.ms.toFixed(2) })),
        timings: r.timings }, null, 1));
    } else {
      // With --skip-rate, the sweep is over the thresholds those rates map to (the dense baseline stays first).
      const targets = v['skip-rate']?.split(',').map((r) => num('skip-rate', r) as number);
      targets?.forEach((r) => console.error(describeMapping(runner, r)));
      const thresholds = targets ? [0, ...targets.map((r) => thresholdForSkipRate(runner.manifest, r).threshold)]
        : (v.thresholds ?? '0,0.5').split(',').map((t) => num('thresholds', t) as number);
      const repeat = num('repeat', v.repeat) ?? 3;
      let dense: number | undefined;
      console.log('threshold  decode tok/s (median)  vs first  skipped');
      for (const threshold of thresholds) {
        const rates: number[] = [];
        let skipped = 0;
        for (let i = 0; i < repeat; i++) {
          gen.reset();
          const r = await gen.complete({ ...req, threshold, stop: undefined });
          rates.push(r.timings.decodeTokPerS);
          skipped = 1 - r.tokens.reduce((s, t) => s + executed(t), 0) / (2 * runner.layers * r.tokens.length);
        }
        const rate = median(rates);
        dense ??= rate;
        console.log(`${String(+threshold.toPrecision(4)).padEnd(10)} ${rate.toFixed(1).padStart(20)}  ${(rate / dense).toFixed(2).padStart(7)}x  ${(100 * skipped).toFixed(1)}%`);
      }
    }
    return 0;
  } finally {
    await runner.dispose();
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
  console.error(`skipgpt: ${e.message}`);
  process.exitCode = 1;
});
