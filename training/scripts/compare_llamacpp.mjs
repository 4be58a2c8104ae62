// llama.cpp side of the transformers ↔ llama.cpp parity check (driven by training/skipgpt/llamacpp_compare.py).
// Reads {modelPath, prompts: string[], nTokens, threads, forced?: number[][]} as JSON on stdin; writes one JSON
// object on stdout with, per prompt, llama.cpp's token ids of the raw text, its greedy continuation (with top-5
// probabilities) and, when `forced` (transformers' continuation) is given, llama.cpp's top-5 next-token
// probabilities along that same token path (teacher forcing: no divergence cascade).
import { readFileSync } from "node:fs";
import { getLlama } from "node-llama-cpp";

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function top5(probabilities) {
  // The map is sorted by probability (highest first), so the first five entries are the top five.
  const out = [];
  for (const [token, p] of probabilities) {
    out.push([token, p]);
    if (out.length === 5) break;
  }
  return out;
}

function packageVersion() {
  // package.json is not in the package's "exports"; read it next to the resolved entry (dist/index.js).
  const url = new URL("../package.json", import.meta.resolve("node-llama-cpp"));
  return JSON.parse(readFileSync(url, "utf8")).version;
}

// Next-token top-5 after the prompt and after each forced token except the last (one row per forced token).
async function teacherForced(model, ids, forced, threads) {
  const context = await model.createContext({ contextSize: 512, threads });
  const seq = context.getSequence();
  const input = [...ids, ...forced.slice(0, -1)];
  const want = { generateNext: { probabilities: true, options: { temperature: 0 } } };
  const items = input.map((t, i) => (i >= ids.length - 1 ? [t, want] : t));
  const out = await seq.controlledEvaluate(items);
  await context.dispose();
  return input.map((_, i) => i).filter((i) => i >= ids.length - 1).map((i) => top5(out[i].next.probabilities));
}

async function main() {
  const req = await readStdin();
  if (!req.modelPath || !Array.isArray(req.prompts)) {
    throw new Error("stdin must be JSON {modelPath, prompts: string[], nTokens}");
  }
  const nTokens = req.nTokens ?? 32;
  // CPU only: this is the reference path the extension would use on a machine without a GPU.
  const llama = await getLlama({ gpu: false, logLevel: "error" });
  const model = await llama.loadModel({ modelPath: req.modelPath });
  const results = [];
  for (const prompt of req.prompts) {
    // specialTokens=false: tokenize the raw text (no BOS, "<|im_end|>" would be plain text) like the HF side.
    const ids = Array.from(model.tokenize(prompt, false));
    // A fresh context per prompt so no KV state leaks between prompts.
    const context = await model.createContext({ contextSize: 512, threads: req.threads ?? 1 });
    const seq = context.getSequence();
    const generated = [];
    const tops = [];
    // temperature 0 = greedy argmax; no repeat penalty so both sides pick the plain argmax.
    const it = seq.evaluateWithMetadata(ids, { probabilities: true }, { temperature: 0, yieldEogToken: true });
    for await (const out of it) {
      generated.push(out.token);
      tops.push(top5(out.probabilities));
      if (generated.length >= nTokens) break;
    }
    await context.dispose();
    const forced = req.forced?.[results.length];
    const forcedTop5 = forced ? await teacherForced(model, ids, forced, req.threads ?? 1) : undefined;
    results.push({ prompt, ids, generated, top5: tops, text: model.detokenize(generated), forcedTop5 });
  }
  const info = {
    nodeLlamaCpp: packageVersion(),
    llamaCppRelease: llama.llamaCppRelease,
    gpu: llama.gpu,
  };
  await model.dispose();
  await llama.dispose();
  process.stdout.write(JSON.stringify({ info, results }) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + "\n");
  process.exit(1);
});
