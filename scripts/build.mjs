// Build: esbuild bundles for what ships (host, engine process, CLI, webviews) and a plain transpile of the
// sources and tests into out/ for mocha. Type-checking is `npm run typecheck` (tsc --noEmit), not here.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');
// onnxruntime-node is a native addon: never bundled, shipped as its own folder (see .vscodeignore).
const nodeExternal = ['vscode', 'onnxruntime-node', 'node-llama-cpp'];

const bundles = [
  { in: 'extension/extension.ts', out: 'dist/extension.js', platform: 'node' },
  { in: 'extension/engine/process.ts', out: 'dist/engine-process.js', platform: 'node' },
  { in: 'extension/engine/probe-main.ts', out: 'dist/engine-probe.js', platform: 'node' },
  { in: 'extension/engine/cli.ts', out: 'dist/cli.js', platform: 'node', banner: '#!/usr/bin/env node' },
  { in: 'webview/panel/main.ts', out: 'dist/webview/panel.js', platform: 'browser' },
  { in: 'webview/inspector/main.ts', out: 'dist/webview/inspector.js', platform: 'browser' },
];

const started = Date.now();
for (const b of bundles) {
  if (!existsSync(b.in)) { console.log(`build: skip ${b.in} (not written yet)`); continue; }
  await esbuild.build({
    entryPoints: [b.in], outfile: b.out, bundle: true, sourcemap: !production, minify: production,
    platform: b.platform, format: b.platform === 'node' ? 'cjs' : 'iife', target: b.platform === 'node' ? 'node20' : 'es2022',
    external: b.platform === 'node' ? nodeExternal : [], banner: b.banner ? { js: b.banner } : undefined, logLevel: 'warning',
  });
}

// Tests and the modules they import, transpiled file by file (no bundling) so mocha can load them.
rmSync('out', { recursive: true, force: true });
// Node 20 has no fs.globSync: walk the three source roots.
const walk = (dir) => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []).flatMap((e) =>
  e.isDirectory() ? (e.name === 'fixtures' ? [] : walk(join(dir, e.name))) : [join(dir, e.name)]);
const sources = ['extension', 'webview', 'test'].flatMap(walk).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
await esbuild.build({
  entryPoints: sources, outdir: 'out', outbase: '.', bundle: false, platform: 'node', format: 'cjs',
  target: 'node20', sourcemap: true, logLevel: 'warning',
});
console.log(`build: ${bundles.length} bundles, ${sources.length} transpiled files in ${Date.now() - started} ms`);
