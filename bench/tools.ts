/** What the benchmark scripts share: pgbench on the same server, and the CLI timed line by line. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const pgbenchBin = ['/usr/lib/postgresql/18/bin/pgbench', '/usr/lib/postgresql/17/bin/pgbench', '/usr/lib/postgresql/15/bin/pgbench'].find(existsSync) ?? 'pgbench';

/** pgbench, one client, for `seconds`: transactions (script executions) per second, or the error. */
export function pgbench(dbUrl: string, script: string, seconds: number): { tps: number; error: string | null } {
  const url = new URL(dbUrl);
  const file = join(mkdtempSync(join(tmpdir(), 'tp-bench-')), 'script.sql');
  writeFileSync(file, script);
  const out = spawnSync(
    pgbenchBin,
    ['-n', '-M', 'simple', '-c', '1', '-T', String(seconds), '-f', file, '-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), decodeURIComponent(url.pathname.slice(1))],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(out.stdout)?.[1] ?? NaN);
  return { tps, error: Number.isNaN(tps) ? (out.stderr || String(out.error)).trim().split('\n').at(-1) ?? 'failed' : null };
}

/** Runs the CLI; returns the wall time and the time (from spawn) at which each stderr line arrived. */
export async function runCli(args: readonly string[], entry = 'bin/tenantproof.js'): Promise<{ seconds: number; code: number | null; lines: { at: number; text: string }[] }> {
  const started = performance.now();
  const lines: { at: number; text: string }[] = [];
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let buffer = '';
    child.stderr.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const text of parts) lines.push({ at: (performance.now() - started) / 1000, text });
    });
    child.on('exit', done);
  });
  return { seconds: (performance.now() - started) / 1000, code, lines };
}
