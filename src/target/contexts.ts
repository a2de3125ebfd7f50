/**
 * Context templates: how a principal enters PostgreSQL, beyond one setting.
 *
 * - **principal**: who acts — a user (a row of the users table) belonging to zero, one or several
 *   tenants through a membership table; the anonymous principal; or a principal that simply is its
 *   tenant (the one-setting convention, `--tenant-setting`).
 * - **context template**: a role (template), settings (name → template; JSON values allowed), an
 *   optional SQL statement and a search_path. Placeholders: `{user}`, `{tenant}`,
 *   `{tenant.<column>}` (a column of the tenant's row, e.g. its database role), `{other}` (another
 *   tenant's id, for adversarial claims a user can edit about itself).
 * - **preset**: a convention's template (`supabase`, `postgraphile`).
 *
 * Values are always literals (quoteLiteral) or subqueries over the tenants table keyed by a
 * literal: a tenant id or user id is never spliced into SQL text. Everything is transaction-local
 * (`set_config(…, true)`, `SET LOCAL`), inside the savepoint a probe rolls back.
 */
import { quoteIdent, quoteLiteral } from './connection.ts';

export const presetNames = ['supabase', 'postgraphile'] as const;
export type PresetName = (typeof presetNames)[number];

/** The context block of a target (CLI flags `--preset`, `--context-*`, `--users-table`, `--membership-*`). */
export interface ContextConfig {
  readonly preset: PresetName | null;
  /** Role template (`authenticated`, `{tenant.db_user}`); null = the app role. */
  readonly role: string | null;
  /** Setting name → value template (a JSON object allowed). */
  readonly settings: Readonly<Record<string, string>>;
  /** A statement run after the role and settings (e.g. `select app.login({user})`). */
  readonly sql: string | null;
  readonly searchPath: string | null;
  /** The table of users (`auth.users`); null = the principal is its tenant. */
  readonly usersTable: string | null;
  readonly membershipTable: string | null;
  readonly membershipUserColumn: string | null;
  readonly membershipTenantColumn: string | null;
  /** How the anonymous principal enters (role and settings), when the convention has one. */
  readonly anonymous: { readonly role: string; readonly settings: Readonly<Record<string, string>> } | null;
  /** Roles that bypass row security by design (Supabase's service_role): never acted as. */
  readonly bypassByDesign: readonly string[];
  /** Filled by the rls model once the catalog is read: where placeholders are looked up. */
  readonly resolved?: ResolvedContext;
}

/** What entering a principal needs from the catalog: the tenants table and the users table's key type. */
export interface ResolvedContext {
  readonly tenants: TenantRowSource | null;
  /** The base type of user ids (`uuid`, `int4`, `text`). */
  readonly userKeyType: string;
  /** No membership table: a tenant's principal is its tenant (`{user}` is the tenant id). */
  readonly userIsTenant: boolean;
  /** For each world tenant id, another tenant of the same world ({other}); refilled when a world is written. */
  readonly others: Map<string, string>;
  /** The key type of the sessions table ({session}), when there is one. */
  readonly sessionKeyType: string | null;
}

/** The key of a user's session row ({session}): stable per user, of the sessions table's key type. */
export function sessionIdOf(user: string, keyType: string): string {
  return principalUserId(`session:${user}`, keyType);
}

/** What a preset sets; flags given beside it win. */
export function presetContext(name: PresetName, tenantColumn: string): Omit<ContextConfig, 'membershipTable' | 'membershipUserColumn' | 'membershipTenantColumn'> {
  if (name === 'supabase') {
    // PostgREST sets request.jwt.claims (JSON) and, for older auth.uid() versions, request.jwt.claim.<name>.
    // user_metadata is editable by the user itself: it carries another tenant's id (adversarial).
    const metadata = Object.fromEntries([...new Set([tenantColumn, 'tenant_id', 'account_id', 'organization_id', 'team_id'])].map((k) => [k, '{other}']));
    const claims = JSON.stringify({ sub: '{user}', role: 'authenticated', aud: 'authenticated', email: 'tp-{user}@example.invalid', user_metadata: metadata, app_metadata: {} });
    return {
      preset: name,
      role: 'authenticated',
      settings: {
        'request.jwt.claims': claims,
        'request.jwt.claim.sub': '{user}',
        'request.jwt.claim.role': 'authenticated',
        'request.jwt.claim.email': 'tp-{user}@example.invalid',
      },
      sql: null,
      searchPath: null,
      usersTable: 'auth.users',
      anonymous: { role: 'anon', settings: { 'request.jwt.claims': JSON.stringify({ role: 'anon' }), 'request.jwt.claim.role': 'anon' } },
      bypassByDesign: ['service_role'],
    };
  }
  // PostGraphile: pgSettings from the JWT become jwt.claims.<name>; the role claim picks the role.
  return {
    preset: name,
    role: null,
    // The starter's jwt.claims.session_id (a row of the sessions table), else jwt.claims.user_id.
    settings: { 'jwt.claims.session_id': '{session}', 'jwt.claims.user_id': '{user}', 'jwt.claims.role': '{role}' },
    sql: null,
    searchPath: null,
    usersTable: null,
    anonymous: null,
    bypassByDesign: [],
  };
}

/** Placeholders found in a template. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(/\{([a-z_]+(?:\.[A-Za-z_][\w$]*)?)\}/g)].map((m) => m[1]!);
}

/** Who a context is entered for: the values placeholders take. */
export interface PrincipalValues {
  /** The user id, or null (anonymous / no user). */
  readonly user: string | null;
  /** The tenant id the principal acts for (its first tenant), or null. */
  readonly tenant: string | null;
  /** The role name the app role claim carries ({role}). */
  readonly role: string;
  /** Another tenant's id ({other}: adversarial claims a user can edit about itself), when the world has one. */
  readonly other?: string | null;
  /** The principal's session row key ({session}: PostGraphile's jwt.claims.session_id), when there is a sessions table. */
  readonly session?: string | null;
}

/** Where `{tenant.<column>}` and `{other}` are looked up: the tenants table and its key column. */
export interface TenantRowSource {
  readonly sql: string;
  readonly key: string;
}

/** A SQL text expression for one template string (null when a placeholder has no value). */
export function templateExpression(template: string, values: PrincipalValues, tenants: TenantRowSource | null): string | null {
  const parts: string[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([a-z_]+(?:\.[A-Za-z_][\w$]*)?)\}/g)) {
    if (m.index > last) parts.push(quoteLiteral(template.slice(last, m.index)));
    last = m.index + m[0].length;
    const name = m[1]!;
    if (name === 'user') {
      if (values.user === null) return null;
      parts.push(quoteLiteral(values.user));
    } else if (name === 'tenant') {
      if (values.tenant === null) return null;
      parts.push(quoteLiteral(values.tenant));
    } else if (name === 'role') {
      parts.push(quoteLiteral(values.role));
    } else if (name === 'other' || name === 'session') {
      const v = values[name];
      if (!v) return null;
      parts.push(quoteLiteral(v));
    } else if (name.startsWith('tenant.')) {
      if (values.tenant === null || !tenants) return null;
      const key = `t.${quoteIdent(tenants.key)}::text`;
      parts.push(`(select t.${quoteIdent(name.slice('tenant.'.length))}::text from ${tenants.sql} t where ${key} = ${quoteLiteral(values.tenant)})`);
    } else {
      // Unknown placeholders are refused when the config is read; keep the text as written.
      parts.push(quoteLiteral(m[0]));
    }
  }
  if (last < template.length || parts.length === 0) parts.push(quoteLiteral(template.slice(last)));
  return parts.length === 1 ? parts[0]! : `(${parts.join(' || ')})`;
}

/** A JSON template (an object) as a SQL expression building the same JSON text, each string leaf a template. */
function jsonExpression(value: unknown, values: PrincipalValues, tenants: TenantRowSource | null): string {
  if (typeof value === 'string') return `to_jsonb((${templateExpression(value, values, tenants) ?? "null"})::text)`;
  if (Array.isArray(value)) return `jsonb_build_array(${value.map((v) => jsonExpression(v, values, tenants)).join(', ')})`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${quoteLiteral(k)}, ${jsonExpression(v, values, tenants)}`);
    return `jsonb_build_object(${entries.join(', ')})`;
  }
  return `${quoteLiteral(JSON.stringify(value))}::jsonb`;
}

/** A setting's value as a SQL text expression: JSON templates are built as JSON (values escaped), others as text. */
export function settingExpression(template: string, values: PrincipalValues, tenants: TenantRowSource | null): string | null {
  const trimmed = template.trim();
  if (trimmed.startsWith('{') && trimmed.endsWith('}') && trimmed.includes('"')) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      const mentionsUser = placeholdersOf(trimmed).includes('user');
      if (mentionsUser && values.user === null) return null;
      return `${jsonExpression(parsed, values, tenants)}::text`;
    } catch {
      // not JSON: a text template
    }
  }
  return templateExpression(template, values, tenants);
}

/**
 * SQL entering one principal's context: settings first (evaluated as the connecting role, so
 * `{tenant.<column>}` can read the tenants table), then the role, search_path and statement.
 */
export function enterContextSql(
  entry: { readonly role: string; readonly settings: Readonly<Record<string, string>>; readonly sql: string | null; readonly searchPath: string | null },
  values: PrincipalValues,
  tenants: TenantRowSource | null,
): string {
  const out: string[] = [];
  for (const [name, template] of Object.entries(entry.settings)) {
    const expr = settingExpression(template, values, tenants);
    // A setting without a value for this principal stays at its default (RESET is transactional).
    out.push(expr === null ? `set local ${name.split('.').map(quoteIdent).join('.')} to default` : `select set_config(${quoteLiteral(name)}, ${expr}, true)`);
  }
  if (placeholdersOf(entry.role).length === 0) out.push(`set local role ${quoteIdent(entry.role)}`);
  else {
    // A role named by the tenant's row: PostgREST's own way, set_config('role', …, true).
    const expr = templateExpression(entry.role, values, tenants);
    out.push(`select set_config('role', coalesce(${expr ?? 'null::text'}, 'tenantproof: no role for this principal'), true)`);
  }
  if (entry.searchPath) out.push(`set local search_path = ${entry.searchPath.split(',').map((s) => quoteIdent(s.trim())).join(', ')}`);
  if (entry.sql) out.push(inlineTemplateSql(entry.sql, values));
  return out.join('; ');
}

/** `{user}` and `{tenant}` in a statement become literals (never spliced as text). */
function inlineTemplateSql(sql: string, values: PrincipalValues): string {
  return sql.replace(/\{(user|tenant|role)\}/g, (_, name: 'user' | 'tenant' | 'role') => {
    const v = values[name];
    return v === null ? 'null' : quoteLiteral(v);
  });
}

/**
 * A stable user id for a principal named by `seed` (a tenant id, say), of the users table's key
 * type: the same principal gets the same id in every run, so findings and replays line up.
 */
export function principalUserId(seed: string, baseType: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of `tenantproof-principal:${seed}`) {
    h1 = Math.imul(h1 ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ ch.charCodeAt(0), 0x5bd1e995) >>> 0;
  }
  if (['int2', 'int4', 'int8', 'numeric'].includes(baseType)) return String(baseType === 'int2' ? 20_000 + (h1 % 12_000) : 1_500_000_000 + (h1 % 500_000_000));
  if (baseType === 'uuid') {
    const hex = (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).repeat(2);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
  return `tp-user-${h1.toString(36)}${h2.toString(36)}`;
}

/** The context options as flags and config files give them (every one optional). */
export interface ContextTemplateOptions {
  readonly preset?: PresetName | null;
  readonly usersTable?: string | null;
  readonly membershipTable?: string | null;
  readonly membershipUserColumn?: string | null;
  readonly membershipTenantColumn?: string | null;
  readonly role?: string | null;
  readonly settings?: Readonly<Record<string, string>> | null;
  readonly sql?: string | null;
  readonly searchPath?: string | null;
}

/** A context from a preset and/or options (options win over the preset); null when nothing is given. */
export function contextFrom(options: ContextTemplateOptions, tenantColumn: string): ContextConfig | null {
  const given = Object.entries(options).some(([, v]) => v !== null && v !== undefined && !(typeof v === 'object' && Object.keys(v).length === 0));
  if (!given) return null;
  const base = options.preset
    ? presetContext(options.preset, tenantColumn)
    : { preset: null, role: null, settings: {}, sql: null, searchPath: null, usersTable: null, anonymous: null, bypassByDesign: [] };
  return {
    ...base,
    role: options.role ?? base.role,
    settings: { ...base.settings, ...options.settings },
    sql: options.sql ?? base.sql,
    searchPath: options.searchPath ?? base.searchPath,
    usersTable: options.usersTable ?? base.usersTable,
    membershipTable: options.membershipTable ?? null,
    membershipUserColumn: options.membershipUserColumn ?? null,
    membershipTenantColumn: options.membershipTenantColumn ?? null,
  };
}
