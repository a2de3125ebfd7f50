/**
 * Target configuration: CLI flags and config files (tenantproof.config.json / .ts) parsed into a
 * validated `TargetConfig` plus run options. Validation is zod; every error is one line that
 * names the bad flag or field, so the CLI can print it as is and exit 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { isolationModelNames } from './types.ts';
import { CannotRunError } from '../errors.ts';
import { severities, type Severity } from '../findings/types.ts';
import { parsePostgresUrl } from './url.ts';
import { targetDefaults, type TargetConfig } from './types.ts';
import { contextFrom, placeholdersOf, presetNames, type PresetName } from './contexts.ts';

export const outputFormats = ['text', 'json', 'github'] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** Everything `tenantproof verify` needs: the target and how to run against it. */
export interface VerifyConfig {
  readonly target: TargetConfig;
  /** Property runs (generated worlds) per model. */
  readonly runs: number;
  /** fast-check seed; absent = a fresh one, always printed. */
  readonly seed: number | null;
  readonly reportDir: string;
  readonly format: OutputFormat;
  /** Static findings at or above this severity fail the run (exit 1); an observed leak always does. */
  readonly failOn: Severity;
  /** A baseline file of accepted findings (findings/baseline.ts): only findings not in it fail the run. */
  readonly baseline: string | null;
  /** Write the run's findings into the baseline file (keeping the reasons already there) instead of failing on them. */
  readonly updateBaseline: boolean;
  /** Probe every table in every world, also where tables share one definition (checks/probes/engine.ts, tablesPerClass). */
  readonly exhaustive?: boolean;
}

export const defaultRuns = 20;
export const defaultReportDir = 'reports/tenantproof';

/** The options a config file may set (all optional; flags override them). */
export interface TenantproofConfigFile {
  databaseUrl?: string;
  model?: TargetConfig['model'];
  appRole?: string;
  tenantTable?: string;
  tenantColumn?: string;
  tenantSetting?: string;
  schemaPattern?: string;
  databasePattern?: string;
  tenantRole?: string | null;
  schemas?: string | readonly string[];
  runs?: number;
  seed?: number;
  reportDir?: string;
  format?: OutputFormat;
  failOn?: Severity;
  baseline?: string;
  updateBaseline?: boolean;
  /** Probe every table in every world, also tables that share one definition. */
  exhaustive?: boolean;
  /** rls: how a principal enters (target/contexts.ts); the flags `--preset`, `--context-*`, `--users-table`, `--membership-*` set the same. */
  context?: ContextFileBlock;
}

/** The config file's `context` block. */
export interface ContextFileBlock {
  preset?: PresetName;
  usersTable?: string;
  membershipTable?: string;
  membershipUserColumn?: string;
  membershipTenantColumn?: string;
  role?: string;
  settings?: Record<string, string>;
  sql?: string;
  searchPath?: string;
}

/** Typed helper for tenantproof.config.ts: `export default defineConfig({ … })`. */
export function defineConfig(config: TenantproofConfigFile): TenantproofConfigFile {
  return config;
}

const identifier = z.string().trim().min(1, 'must not be empty').max(63, 'is longer than 63 characters (PostgreSQL identifiers)');

const fields = {
  databaseUrl: z.string().superRefine((url, ctx) => {
    try {
      parsePostgresUrl(url);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^database URL /, '') });
    }
  }),
  model: z.enum(isolationModelNames as [TargetConfig['model'], ...TargetConfig['model'][]], { message: `must be one of ${isolationModelNames.join(', ')}` }),
  appRole: identifier,
  tenantTable: z.string().trim().regex(/^([^.\s]+\.)?[^.\s]+$/, 'must be a table name or schema.table'),
  tenantColumn: identifier,
  tenantSetting: z.string().trim().regex(/^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)+$/, 'must be a custom setting name with a dot, e.g. app.current_tenant'),
  schemaPattern: z.string().min(1, 'must not be empty'),
  databasePattern: z.string().min(1, 'must not be empty'),
  tenantRole: z.string().includes('{tenant}', { message: 'must contain {tenant}, e.g. tenant_{tenant}_role' }).nullable(),
  schemas: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((name) => name.trim()).filter(Boolean))
    .pipe(z.array(identifier).min(1, 'must name at least one schema')),
  runs: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
  seed: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(-2_147_483_648, 'must fit in 32 bits').max(2_147_483_647, 'must fit in 32 bits'),
  reportDir: z.string().min(1, 'must not be empty'),
  format: z.enum(outputFormats, { message: `must be one of ${outputFormats.join(', ')}` }),
  failOn: z.enum(severities as [Severity, ...Severity[]], { message: `must be one of ${severities.join(', ')}` }),
  baseline: z.string().min(1, 'must not be empty'),
  flag: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
  preset: z.enum(presetNames, { message: `must be one of ${presetNames.join(', ')}` }),
  tableName: z.string().trim().regex(/^([^.\s]+\.)?[^.\s]+$/, 'must be a table name or schema.table'),
  template: z
    .string()
    .min(1, 'must not be empty')
    .superRefine((t, ctx) => {
      const unknown = placeholdersOf(t).filter((p) => !knownPlaceholders.has(p) && !p.startsWith('tenant.'));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `has an unknown placeholder {${unknown[0]}} (known: {user}, {tenant}, {tenant.<column>}, {role}, {other}, {session})` });
    }),
};

const knownPlaceholders = new Set(['user', 'tenant', 'role', 'other', 'session']);
const settingName = /^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)+$/;

const contextBlock = z.strictObject({
  preset: fields.preset.optional(),
  usersTable: fields.tableName.optional(),
  membershipTable: fields.tableName.optional(),
  membershipUserColumn: identifier.optional(),
  membershipTenantColumn: identifier.optional(),
  role: fields.template.optional(),
  settings: z
    .record(z.string().regex(settingName, 'setting names must be custom settings with a dot, e.g. request.jwt.claims'), fields.template)
    .optional(),
  sql: z.string().min(1, 'must not be empty').optional(),
  searchPath: z.string().min(1, 'must not be empty').optional(),
});

/** `--context-setting NAME=TEMPLATE` (repeatable) as a settings record. */
const contextSettingFlag = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? [v] : v))
  .pipe(
    z.array(
      z.string().regex(/^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)+=/, 'must be NAME=TEMPLATE with a custom setting name (e.g. request.jwt.claims={"sub":"{user}"})').pipe(
        z.string().superRefine((pair, ctx) => {
          const template = pair.slice(pair.indexOf('=') + 1);
          const parsed = fields.template.safeParse(template);
          if (!parsed.success) ctx.addIssue({ code: 'custom', message: `${pair.slice(0, pair.indexOf('='))} ${parsed.error.issues[0]!.message}` });
        }),
      ),
    ),
  );

const fileSchema = z.strictObject({
  databaseUrl: fields.databaseUrl.optional(),
  model: fields.model.optional(),
  appRole: fields.appRole.optional(),
  tenantTable: fields.tenantTable.optional(),
  tenantColumn: fields.tenantColumn.optional(),
  tenantSetting: fields.tenantSetting.optional(),
  schemaPattern: fields.schemaPattern.optional(),
  databasePattern: fields.databasePattern.optional(),
  tenantRole: fields.tenantRole.optional(),
  schemas: fields.schemas.optional(),
  runs: fields.runs.optional(),
  seed: fields.seed.optional(),
  reportDir: fields.reportDir.optional(),
  format: fields.format.optional(),
  failOn: fields.failOn.optional(),
  baseline: fields.baseline.optional(),
  updateBaseline: fields.flag.optional(),
  exhaustive: fields.flag.optional(),
  context: contextBlock.optional(),
});

const verifySchema = z.object({
  databaseUrl: z.string({ message: 'is required' }).pipe(fields.databaseUrl),
  model: fields.model,
  appRole: fields.appRole.default(targetDefaults.appRole),
  tenantTable: fields.tenantTable.default(targetDefaults.tenantTable),
  tenantColumn: fields.tenantColumn.default(targetDefaults.tenantColumn),
  tenantSetting: fields.tenantSetting.default(targetDefaults.tenantSetting),
  schemaPattern: fields.schemaPattern.default(targetDefaults.schemaPattern),
  databasePattern: fields.databasePattern.default(targetDefaults.databasePattern),
  tenantRole: fields.tenantRole.default(targetDefaults.tenantRole),
  schemas: fields.schemas.nullable().default(null),
  runs: fields.runs.default(defaultRuns),
  seed: fields.seed.nullable().default(null),
  reportDir: fields.reportDir.default(defaultReportDir),
  format: fields.format.default('text'),
  failOn: fields.failOn.default('high'),
  baseline: fields.baseline.nullable().default(null),
  updateBaseline: fields.flag.default(false),
  exhaustive: fields.flag.default(false),
  context: contextBlock.optional(),
  preset: fields.preset.optional(),
  usersTable: fields.tableName.optional(),
  membershipTable: fields.tableName.optional(),
  membershipUserColumn: identifier.optional(),
  membershipTenantColumn: identifier.optional(),
  contextRole: fields.template.optional(),
  contextSetting: contextSettingFlag.optional(),
  contextSql: z.string().min(1, 'must not be empty').optional(),
});

/** `databaseUrl` → `--database-url`. */
export const flagName = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function oneLine(error: z.ZodError, describe: (field: string) => string, input: Readonly<Record<string, unknown>> = {}): string {
  const issue = error.issues[0]!;
  const field = issue.path.filter((p) => typeof p !== 'number').map(String).join('.');
  if (issue.code === 'unrecognized_keys') return `${describe(field)}unknown option ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const given = issue.path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined), input);
  if (field && given === undefined) return `${describe(field)} is required`;
  return `${describe(field)} ${issue.message}`.replace(/\s+/g, ' ');
}

/** Reads and validates a config file (JSON, or a .ts/.js module whose default export is the config). */
export async function loadConfigFile(path: string): Promise<TenantproofConfigFile> {
  const file = resolve(path);
  if (!existsSync(file)) throw new CannotRunError(`config file ${path} does not exist`);
  let raw: unknown;
  try {
    if (/\.(json)$/i.test(file)) raw = JSON.parse(readFileSync(file, 'utf8'));
    else {
      if (/\.[cm]?ts$/i.test(file)) await registerTypeScript(path);
      raw = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    }
  } catch (error) {
    throw new CannotRunError(`config file ${path} cannot be read: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const input = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    throw new CannotRunError(`config file ${path}: ${oneLine(parsed.error, (f) => f, input)}`);
  }
  return parsed.data as TenantproofConfigFile;
}

/** A .ts config file needs a TypeScript loader: tsx, registered once (already there in a checkout). */
async function registerTypeScript(path: string): Promise<void> {
  if ((globalThis as { __tenantproofTsx?: boolean }).__tenantproofTsx) return;
  try {
    const { register } = (await import('tsx/esm/api')) as { register: () => unknown };
    register();
    (globalThis as { __tenantproofTsx?: boolean }).__tenantproofTsx = true;
  } catch {
    throw new CannotRunError(`config file ${path} is TypeScript: install tsx beside tenantproof (npm i -D tsx), or use tenantproof.config.json or .js`);
  }
}

/** The config file to use: the one named, else tenantproof.config.json/.ts in `cwd`, else none. */
export function findConfigFile(named: string | undefined, cwd = process.cwd()): string | null {
  if (named) return named;
  for (const name of ['tenantproof.config.json', 'tenantproof.config.ts']) {
    if (existsSync(resolve(cwd, name))) return resolve(cwd, name);
  }
  return null;
}

/**
 * Merges flags over a config file and validates the result. `flags` are camelCase option values
 * as commander gives them (strings); undefined means "not given".
 */
export function resolveVerifyConfig(flags: Readonly<Record<string, unknown>>, file: TenantproofConfigFile = {}): VerifyConfig {
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const merged = { ...file, ...given };
  const parsed = verifySchema.safeParse(merged);
  if (!parsed.success) {
    const fromFlag = (field: string) => field in given || !(field in file);
    throw new CannotRunError(oneLine(parsed.error, (f) => (fromFlag(f) ? flagName(f) : `config ${f}`), merged));
  }
  const v = parsed.data;
  if (v.model === 'rls' && v.tenantRole) {
    throw new CannotRunError('--tenant-role does not apply to --model rls (the rls model acts as --app-role with --tenant-setting): remove it');
  }
  const fromFile = v.context ?? {};
  const flagSettings = Object.fromEntries((v.contextSetting ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  const context = contextFrom(
    {
      preset: v.preset ?? fromFile.preset ?? null,
      usersTable: v.usersTable ?? fromFile.usersTable ?? null,
      membershipTable: v.membershipTable ?? fromFile.membershipTable ?? null,
      membershipUserColumn: v.membershipUserColumn ?? fromFile.membershipUserColumn ?? null,
      membershipTenantColumn: v.membershipTenantColumn ?? fromFile.membershipTenantColumn ?? null,
      role: v.contextRole ?? fromFile.role ?? null,
      settings: { ...fromFile.settings, ...flagSettings },
      sql: v.contextSql ?? fromFile.sql ?? null,
      searchPath: fromFile.searchPath ?? null,
    },
    v.tenantColumn,
  );
  if (context && v.model !== 'rls') {
    throw new CannotRunError(`--preset, --context-* , --users-table and --membership-* apply to --model rls only (the ${v.model} model enters tenants with --tenant-role): remove them`);
  }
  if (v.model === 'database' && !v.tenantRole) {
    throw new CannotRunError('--tenant-role is required for --model database (e.g. --tenant-role "{tenant}_role")');
  }
  const target: TargetConfig = {
    databaseUrl: v.databaseUrl,
    model: v.model,
    appRole: v.appRole,
    tenantTable: v.tenantTable,
    tenantColumn: v.tenantColumn,
    tenantSetting: v.tenantSetting,
    schemaPattern: v.schemaPattern,
    databasePattern: v.databasePattern,
    tenantRole: v.tenantRole,
    ...(v.schemas ? { schemas: v.schemas } : {}),
    ...(context ? { context } : {}),
  };
  // The context's first setting stands for the tenant setting in findings, unless --tenant-setting names one.
  const firstSetting = context ? Object.keys(context.settings)[0] : undefined;
  if (firstSetting && !('tenantSetting' in given) && !file.tenantSetting) (target as { tenantSetting: string }).tenantSetting = firstSetting;
  // A preset's role is the app role unless --app-role names another (the static rules read it too).
  if (context?.role && !('appRole' in given) && !(file.appRole) && placeholdersOf(context.role).length === 0) (target as { appRole: string }).appRole = context.role;
  if (v.updateBaseline && !v.baseline) throw new CannotRunError('--update-baseline needs --baseline FILE (the file to write)');
  return { target, runs: v.runs, seed: v.seed, reportDir: v.reportDir, format: v.format, failOn: v.failOn, baseline: v.baseline, updateBaseline: v.updateBaseline, exhaustive: v.exhaustive };
}
