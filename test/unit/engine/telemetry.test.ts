// onnxruntime's telemetry is really off (issue 13 row 2). With the engine in a worker thread, onnxruntime wrote
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db and /tmp/mat-debug-<pid>.log and looked up
// Microsoft's telemetry host ~9.5 s after start: native code reads the real process environment, which a worker
// does not get. Here a host program WITHOUT ORT_DISABLE_TELEMETRY in its environment runs the engine process (the
// client must put it there) with HOME, XDG_* and TMPDIR in a fresh folder for 11 s; nothing may be written there,
// no /tmp/mat-debug-<engine pid>.log, and, under strace when the machine has it, no connect()/sendto() to a
// network address (only AF_UNIX, or loopback other than DNS).
import * as assert from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { enginePath, repoRoot, tinyDir } from './fixture';

const WAIT_MS = 11_000;
const hostScript = join(repoRoot, 'out', 'test', 'unit', 'engine', 'telemetry-host.js');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}

/** Network syscalls in an strace log that reach beyond this machine (or ask a DNS server anything). */
function networkCalls(log: string): string[] {
  return log.split('\n').filter((l) => /\b(connect|sendto)\(/.test(l) && /AF_INET6?\b/.test(l) && !l.includes('AF_UNIX'))
    .filter((l) => {
      const loopback = /inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\./.test(l);
      const dns = /htons\(53\)/.test(l);
      return !loopback || dns;
    });
}

describe('engine process: onnxruntime telemetry is off', function () {
  this.timeout(120_000);
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'skipgpt-telemetry-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it(`writes nothing under HOME/TMPDIR and opens no network connection within ${WAIT_MS / 1000} s`, async () => {
    const home = join(root, 'home'), tmp = join(root, 'tmp'), logs = join(root, 'logs');
    for (const d of [home, tmp, logs]) mkdirSync(d);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: join(home, '.cache'),
      XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local', 'share') };
    delete env.ORT_DISABLE_TELEMETRY;  // the client alone must turn it off, in the engine's real environment
    const hasStrace = spawnSync('strace', ['-V']).status === 0;
    const traceFile = join(logs, 'strace.log');
    const node = [process.execPath, hostScript, enginePath, tinyDir, String(WAIT_MS)];
    const argv = hasStrace ? ['strace', '-f', '-q', '-e', 'trace=connect,sendto', '-o', traceFile, ...node] : node;
    if (!hasStrace) console.log('    (strace not installed: network check skipped, files checked)');
    const child = spawn(argv[0], argv.slice(1), { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.strictEqual(code, 0, `host failed: ${err}`);
    const { enginePid, tokens } = JSON.parse(out.trim().split('\n').pop()!) as { enginePid: number; tokens: number };
    assert.strictEqual(tokens, 4);
    // Every trace of telemetry in one list, so a failure shows all of them.
    const found = [...filesUnder(home).map((f) => `wrote HOME/${f}`), ...filesUnder(tmp).map((f) => `wrote TMPDIR/${f}`)];
    if (existsSync(`/tmp/mat-debug-${enginePid}.log`)) found.push(`wrote /tmp/mat-debug-${enginePid}.log`);
    if (hasStrace) {
      const log = readFileSync(traceFile, 'utf8');
      assert.ok(log.includes('exited with 0'), 'strace saw the processes');
      found.push(...networkCalls(log));
    }
    assert.deepStrictEqual(found, []);
  });
});
