/**
 * Test harness for the reference app: start it in-process on port 0 against a scratch database,
 * drive it with fetch, and tear everything down (app, pools, roles, database).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { scratchDatabase } from '../../fixtures/index.ts';
import { dropReferenceRoles, startReferenceApp, type ReferenceApp, type ReferenceAppOptions } from '../../reference-app/src/index.ts';

export const jwtSecret = 'test-secret-0123456789-abcdefghijklmnop';

export interface TestApp extends AsyncDisposable {
  readonly app: ReferenceApp;
  readonly databaseUrl: string;
  readonly logs: LogCapture;
  readonly client: ApiClient;
  close(): Promise<void>;
}

/** pino output captured as parsed JSON lines. */
export interface LogCapture {
  readonly lines: Record<string, unknown>[];
}

function captureLogs(): { logger: pino.Logger; capture: LogCapture } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, stream), capture: { lines } };
}

export async function startTestApp(options: Omit<ReferenceAppOptions, 'databaseUrl' | 'logger'> = {}): Promise<TestApp> {
  const db = await scratchDatabase('refapp');
  const { logger, capture } = captureLogs();
  let app: ReferenceApp;
  try {
    app = await startReferenceApp({ jwtSecret, ...options, databaseUrl: db.url, logger });
  } catch (error) {
    await dropReferenceRoles(db.url).catch(() => undefined);
    await db.drop();
    throw error;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await dropReferenceRoles(db.url);
    await db.drop();
  };
  return { app, databaseUrl: db.url, logs: capture, client: new ApiClient(app.url), close, [Symbol.asyncDispose]: close };
}

export interface ApiResponse<T = any> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (for malformed JSON). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    // fetch may not set Host (a forbidden header); subdomain requests go through node:http.
    if (options.headers?.host) return this.requestWithHost<T>(method, path, options);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed as T, text, headers: response.headers };
  }

  private requestWithHost<T>(method: string, path: string, options: RequestOptions): Promise<ApiResponse<T>> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    return new Promise((resolve, reject) => {
      const req = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') responseHeaders.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: parsed as T, text, headers: responseHeaders });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  get = <T = any>(path: string, options?: RequestOptions) => this.request<T>('GET', path, options);
  post = <T = any>(path: string, options?: RequestOptions) => this.request<T>('POST', path, options);
  patch = <T = any>(path: string, options?: RequestOptions) => this.request<T>('PATCH', path, options);
  delete = <T = any>(path: string, options?: RequestOptions) => this.request<T>('DELETE', path, options);
}

export interface SignedUpTenant {
  readonly slug: string;
  readonly tenantId: string;
  readonly email: string;
  readonly password: string;
  /** The first admin's token. */
  readonly token: string;
  /** Where the tenant's rows live. */
  readonly model: 'rls' | 'schema' | 'database';
}

export function uniqueSlug(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function signUp(
  client: ApiClient,
  prefix: string,
  plan: 'free' | 'pro' | 'enterprise' = 'pro',
  model?: 'rls' | 'schema' | 'database',
): Promise<SignedUpTenant> {
  const slug = uniqueSlug(prefix);
  const email = `admin@${slug}.example`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const tenant = { slug, name: `${prefix} Inc`, plan, ...(model ? { model } : {}) };
  const response = await client.post('/signup', { body: { tenant, email, password } });
  if (response.status !== 201) throw new Error(`signup of ${slug} failed: ${response.status} ${response.text}`);
  return { slug, tenantId: response.body.tenant.id, email, password, token: response.body.token, model: response.body.tenant.model };
}

/** Creates projects through the API and returns their ids. */
export async function createProjects(client: ApiClient, token: string, names: readonly string[], budgetCents = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (const name of names) {
    const response = await client.post('/projects', { token, body: { name, budgetCents } });
    if (response.status !== 201) throw new Error(`creating project ${name} failed: ${response.status} ${response.text}`);
    ids.push(response.body.id);
  }
  return ids;
}
