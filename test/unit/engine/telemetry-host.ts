// Test-only host for telemetry.test.ts: a plain Node program that uses EngineClient as the extension does (engine
// in its child process), loads a model, completes, stays up `waitMs` from the start (onnxruntime's telemetry acted
// ~9.5 s after start), then prints the engine's pid as JSON. Usage: node telemetry-host.js ENGINE MODEL WAIT_MS
import { EngineClient } from '../../../extension/engine/client';

async function main(): Promise<void> {
  const [enginePath, modelDir, waitMs] = process.argv.slice(2);
  const started = Date.now();
  const client = new EngineClient({ enginePath });
  await client.load(modelDir, { executionProvider: 'cpu', threads: 1 });
  const r = await client.complete({ prompt: 'def add(a, b):', maxTokens: 4 });
  const enginePid = client.pid;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(waitMs) - (Date.now() - started))));
  await client.dispose();
  console.log(JSON.stringify({ enginePid, tokens: r.tokens.length }));
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
