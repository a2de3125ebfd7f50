/**
 * `npm run app` (reference-app/src/main.ts): starts on embedded PostgreSQL, honours PORT, prints
 * its URL, serves the contract — two tenants signed up through it cannot see, change or count each
 * other's projects — and stops cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../../fixtures/index.ts';
import { checkForgedTokens, checkProjectIsolation, checkSwitchTenant, checkTenantSelection } from './checks.ts';
import { ApiClient, jwtSecret, signUp } from './harness.ts';

let child: ChildProcess;
let output = '';
let url: string;
let port: number;

function exited(process: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (process.exitCode !== null) resolve(process.exitCode);
    else process.once('exit', (code) => resolve(code));
  });
}

beforeAll(async () => {
  port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', 'reference-app/src/main.ts'], {
    env: { ...process.env, PORT: String(port), JWT_SECRET: jwtSecret, LOG_LEVEL: 'warn', TENANTPROOF_PG_PROVIDER: 'embedded', VULNERABILITIES: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 60 s: ${output}`)), 60_000);
    const poll = setInterval(() => {
      const match = /reference app listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(match[1]);
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        clearInterval(poll);
        reject(new Error(`exited with ${child.exitCode}: ${output}`));
      }
    }, 100);
  });
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited(child);
  }
});

test('prints its URL on the PORT it was given', () => {
  expect(url).toBe(`http://127.0.0.1:${port}`);
});

test('two tenants signed up through it cannot see, change or count each other\'s projects', async () => {
  const client = new ApiClient(url);
  expect((await client.get('/health')).body).toEqual({ ok: true });
  const a = await signUp(client, 'acme');
  const b = await signUp(client, 'globex');
  const leaks = [
    ...(await checkProjectIsolation(client, a, b)),
    ...(await checkProjectIsolation(client, b, a)),
    ...(await checkTenantSelection(client, a, b)),
    ...(await checkSwitchTenant(client, a, b)),
    ...(await checkForgedTokens(client, a, b)),
  ];
  expect(leaks).toEqual([]);
});

test('stops cleanly on SIGTERM', async () => {
  child.kill('SIGTERM');
  const code = await Promise.race([exited(child), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  expect(code).toBe(0);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
}, 30_000);

test('an unknown VULNERABILITIES name stops it at once with a one-line error (exit 1)', async () => {
  const bad = spawn(process.execPath, ['--import', 'tsx', 'reference-app/src/main.ts'], {
    env: { ...process.env, PORT: '0', VULNERABILITIES: 'idor-by-id,bogus' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  bad.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  expect(await exited(bad)).toBe(1);
  expect(stderr.trim()).toMatch(/^reference app failed to start: unknown vulnerability name\(s\): bogus; known: rls-not-forced/);
  expect(stderr.trim().split('\n')).toHaveLength(1);
}, 30_000);
