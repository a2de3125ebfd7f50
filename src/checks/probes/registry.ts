/**
 * The probe registry: every check a probe can report, declared once — id, title, severity, leak
 * class, CWE, the models it runs in, what it means, and the templates of its finding's sentence and
 * remediation. Probes observe only through `probeFinding`, so a finding's id is always one of these
 * (an unknown id is a type error) and one id always reads the same way.
 *
 * Templates name their blanks in braces: `{object}`, `{acting}`, `{victim}` come from the finding,
 * everything else from the probe's `vars` (`{setting}`, `{appRole}`, `{tenantColumn}`, …).
 * Every id has a red case in the corpora (suites/isolation/probe-corpus.test.ts checks it).
 */
import type { Finding, LeakClass, Severity } from '../../findings/types.ts';
import type { IsolationModelName } from '../../target/types.ts';

/** A finding before the engine stamps model, seed and path on it. */
export type Observation = Omit<Finding, 'model' | 'seed' | 'path'>;

export interface ProbeCheck {
  /** Stable id: never reused, never renamed (reports and suppressions key on it). */
  readonly id: ProbeId;
  /** What the check finds, in general (reports list it once per check). */
  readonly title: string;
  /** The finding's title: a sentence about this database, filled from the finding and `vars`. */
  readonly finding: string;
  readonly severity: Severity;
  readonly leakClass: LeakClass;
  /** True when a hit means data crossed (observed); false for a privilege that would let it. */
  readonly leak: boolean;
  readonly cwe: string;
  readonly models: readonly IsolationModelName[];
  /** What the probe does and why a hit matters (markdown). */
  readonly description: string;
  /** How to fix it, as a template filled per finding. */
  readonly remediation: string;
}

type Declared = Omit<ProbeCheck, 'id'>;

const rowRead = (how: string, title: string, finding: string, cwe: string, remediation: string): Declared => ({
  title,
  finding,
  severity: 'critical',
  leakClass: 'read',
  leak: true,
  cwe,
  models: ['rls'],
  description: `As each generated tenant, ${how}; any row of another tenant in the result is a leak.`,
  remediation,
});

const rlsFix = `Enable (and FORCE) row level security on {object} with a policy USING ({tenantColumn} = current_setting('{setting}')) for {appRole}; permissive policies are OR-ed, so every one must check the tenant.`;

/**
 * The malformed or missing tenant contexts every rls table is probed with, in probe order: the
 * label, and how a sentence opens with it.
 */
const contextChecks = {
  'probe-context-no-context-set': ['no context set', 'Without a tenant context'],
  'probe-context-empty': ['empty', 'With an empty tenant setting'],
  'probe-context-whitespace': ['whitespace', 'With a whitespace-only tenant setting'],
  'probe-context-wildcard': ['wildcard', "With the tenant setting '%'"],
  'probe-context-null-like': ['NULL-like', "With the tenant setting 'null'"],
  'probe-context-star': ['star', "With the tenant setting '*'"],
  'probe-context-another-tenant-s-id-in-other-case': ["another tenant's id in other case", "With another tenant's id in other case as the tenant setting"],
  'probe-context-another-tenant-s-id-padded': ["another tenant's id padded", "With another tenant's id padded with spaces as the tenant setting"],
  'probe-context-injection': ['injection', 'With SQL injected into the tenant setting'],
  'probe-context-injection-comment': ['injection (comment)', 'With SQL injected into the tenant setting (ending in a comment)'],
} as const;

export type ContextProbeId = keyof typeof contextChecks;

const contextCheck = ([label, opening]: readonly [string, string]): Declared => ({
  title: `${opening}, a table fails open`,
  finding: `${opening}, {object} fails open`,
  severity: 'critical',
  leakClass: 'context',
  leak: true,
  cwe: 'CWE-636',
  models: ['rls'],
  description: `With the tenant setting ${label === 'no context set' ? 'left unset' : `set to a ${label} value`}, a scan, an UPDATE of every row and an INSERT for another tenant must see and change nothing beyond the rows of a tenant whose id is equal to the value.`,
  remediation: `The policy on {object} must fail closed: compare {tenantColumn} with current_setting('{setting}', true) strictly — no OR … = '' fallbacks, no coalesce/nullif to the column itself, no LIKE, no trimming or case folding, no SQL built from the setting.`,
});

const foreignTable = (model: 'schema' | 'database', verb: 'read' | 'update' | 'delete' | 'insert'): Declared => {
  const where = model === 'schema' ? "another tenant's schema, by qualified name" : "another tenant's database, as the acting tenant's role";
  const does = { read: 'reads', update: 'updates', delete: 'deletes from', insert: 'inserts into' }[verb];
  return {
    title: `A tenant ${does} another tenant's table (${model} model)`,
    finding: `Tenant {acting} ${does} tenant {victim}'s {name}`,
    severity: 'critical',
    leakClass: verb === 'read' ? 'read' : 'write',
    leak: true,
    cwe: 'CWE-863',
    models: [model],
    description: `As each chosen tenant, ${verb === 'read' ? 'scan' : verb === 'insert' ? 'insert a row into' : `${verb} every row of`} each table in ${where}: it must fail with permission denied, or touch no row.`,
    remediation:
      model === 'schema'
        ? `Revoke the acting tenant's access to the victim's schema: {fix}`
        : `Role {actingRole} has privileges on {table} in {victim}: REVOKE ALL ON {table} FROM PUBLIC and from other tenants' roles; grant only {victimRole}.`,
  };
};

const declared = {
  'probe-read-scan': rowRead('scan each tenant-scoped table', "A tenant reads other tenants' rows", "Tenant reads other tenants' rows of {object}", 'CWE-863', rlsFix),
  'probe-read-lookup': rowRead(
    "look up another tenant's row by its primary key",
    "A tenant looks up another tenant's row by key",
    "Tenant looks up another tenant's row of {object} by key",
    'CWE-639',
    `The SELECT policy on {object} must admit only the current tenant's rows.`,
  ),
  'probe-read-join': rowRead(
    'join each table with each tenant-scoped parent along its foreign key',
    "A join returns other tenants' rows",
    "A join of {object} with {parent} returns other tenants' rows",
    'CWE-863',
    `Both {object} and {parent} need a SELECT policy that admits only the current tenant's rows.`,
  ),
  'probe-aggregate-table': {
    title: "Aggregates over a table include other tenants' rows",
    finding: "Aggregates over {object} include other tenants' rows",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "As each tenant, count, sum, min, max and average over each table, grouped by tenant: the figures must equal the ones computed from the tenant's own rows, and no other tenant's group may appear.",
    remediation: `Aggregates see what the table's SELECT policy admits: fix the policy on {object}.`,
  },
  'probe-aggregate-over-restricted': {
    title: "Aggregates see fewer rows than the tenant's own",
    finding: "Aggregates over {object} see fewer rows than the tenant's own",
    severity: 'info',
    leakClass: 'aggregate',
    leak: false,
    cwe: 'CWE-285',
    models: ['rls'],
    description: "As each tenant, aggregates over each table must count exactly the tenant's own rows. Fewer, with no other tenant's group present, crosses no boundary: the SELECT policy hides some of the tenant's own rows (over-restricted), which is reported for information, never as a leak.",
    remediation: `The SELECT policy on {object} hides some of the tenant's own rows from it: nothing crossed a tenant boundary, but check that the policy admits every row the tenant owns.`,
  },
  'probe-aggregate-view': {
    title: "A view reveals other tenants' data",
    finding: "View {object} reveals other tenants' data",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "Non-interference: what a tenant reads through a view must not change when every other tenant's rows are removed.",
    remediation: `View {object} runs with its owner's rights and bypasses the callers' policies: recreate it WITH (security_invoker = true), or filter it by current_setting('{setting}').`,
  },
  'probe-aggregate-function': {
    title: "A function reveals other tenants' data",
    finding: "Function {object} reveals other tenants' data",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "Non-interference: what a tenant reads through a zero-argument function must not change when every other tenant's rows are removed.",
    remediation: `Function {object} (SECURITY DEFINER or reading unprotected tables) bypasses row level security: make it SECURITY INVOKER, or filter by current_setting('{setting}').`,
  },
  'probe-existence-unique': {
    title: "A unique key reveals another tenant's values",
    finding: "A unique key on {object} reveals another tenant's values",
    severity: 'medium',
    leakClass: 'existence',
    leak: true,
    cwe: 'CWE-203',
    models: ['rls'],
    description: "Insert, as one tenant, a row carrying another tenant's value of a unique key that does not include the tenant: a unique violation tells the tenant that the value exists elsewhere.",
    remediation: `Make the unique key ({key}) on {object} per tenant: ({tenantKey}).`,
  },
  'probe-write-insert-foreign': {
    title: 'A tenant inserts rows for another tenant',
    finding: 'Tenant inserts a row into {object} for another tenant',
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "Insert, as one tenant, a copy of another tenant's row carrying that tenant's id: the INSERT policy's WITH CHECK must refuse it.",
    remediation: `The INSERT policy on {object} needs WITH CHECK ({tenantColumn} = current_setting('{setting}')).`,
  },
  'probe-write-update-foreign': {
    title: "A tenant updates other tenants' rows",
    finding: "Tenant updates other tenants' rows of {object}",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "UPDATE, as one tenant, another tenant's row by its key, and every row with no WHERE clause (a blind write reads no column, so only the UPDATE policy applies, not the SELECT policy): more rows touched than the tenant owns is a leak.",
    remediation: `The UPDATE policy on {object} admits other tenants' rows: its USING must check {tenantColumn} = current_setting('{setting}').`,
  },
  'probe-write-delete-foreign': {
    title: "A tenant deletes other tenants' rows",
    finding: "Tenant deletes other tenants' rows of {object}",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "DELETE, as one tenant, another tenant's row by its key, and every row with no WHERE clause (a blind write reads no column, so only the DELETE policy applies, not the SELECT policy): more rows removed than the tenant owns is a leak.",
    remediation: `The DELETE policy on {object} admits other tenants' rows: its USING must check {tenantColumn} = current_setting('{setting}').`,
  },
  'probe-write-move-to-foreign': {
    title: "A tenant moves its rows into another tenant",
    finding: 'Tenant moves its own row of {object} into another tenant',
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "UPDATE, as one tenant, the tenant column of its own rows to another tenant's id: the UPDATE policy's WITH CHECK must refuse the new row.",
    remediation: `The UPDATE policy on {object} needs WITH CHECK ({tenantColumn} = current_setting('{setting}')).`,
  },
  'probe-write-foreign-parent': {
    title: "A tenant's row references another tenant's parent row",
    finding: "Tenant's row of {object} references another tenant's {parent} row",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "Insert, as one tenant, a row whose foreign key points at another tenant's parent row: foreign key checks bypass row level security, so only a key that includes the tenant (or a WITH CHECK on the parent's tenant) refuses it.",
    remediation: `Foreign key {foreignKey} on {object} does not include the tenant: make it ({tenantKey}) referencing a unique ({tenantColumn}, …) key of {parent}, or check the parent's tenant in the INSERT/UPDATE policy's WITH CHECK (foreign key checks bypass RLS).`,
  },
  'probe-write-truncate': {
    title: "A tenant truncates a table, removing every tenant's rows",
    finding: "Tenant truncates {object}, removing every tenant's rows",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-862',
    models: ['rls'],
    description: 'TRUNCATE, as a tenant: row level security does not apply to it, so the privilege alone lets one tenant empty every tenant\'s rows.',
    remediation: `REVOKE TRUNCATE ON {object} FROM {appRole}: TRUNCATE is not subject to row level security.`,
  },
  ...(Object.fromEntries(Object.entries(contextChecks).map(([id, words]) => [id, contextCheck(words)])) as Record<ContextProbeId, Declared>),
  'probe-schema-read': foreignTable('schema', 'read'),
  'probe-schema-update': foreignTable('schema', 'update'),
  'probe-schema-delete': foreignTable('schema', 'delete'),
  'probe-schema-insert': foreignTable('schema', 'insert'),
  'probe-schema-read-unqualified': {
    title: "An unqualified table name reads rows outside the tenant's schema",
    finding: "Unqualified {name} in tenant {acting}'s context reads rows outside its schema",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant, with its search_path, scan each of its own tables by unqualified name: every row must come from that table itself (not from another schema's table of the same name, nor from tables inheriting from it).",
    remediation: `Unqualified names in tenant {acting}'s context must resolve to its own schema's table alone: set search_path to the tenant's schema only, and let no other schema's table inherit from (or be a partition of) {object}.`,
  },
  'probe-schema-reach-view': {
    title: "A view the tenant's role can read shows another tenant's data",
    finding: "Tenant {acting} reads tenant {victim}'s data through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant's role (its own session, its own search_path), read every view and materialized view it may SELECT in any schema; then remove another tenant's rows (rolled back) and read again. A result that changes is data of the other tenant reaching this one — a view runs its query with its owner's rights, so a reporting view over every tenant schema granted to PUBLIC hands every tenant everyone's rows.",
    remediation: `{path}: REVOKE SELECT ON {object} FROM PUBLIC and from tenant roles, or make it security_invoker (PostgreSQL 15+) so it reads with the caller's rights; a cross-tenant report belongs to a role no tenant can become.`,
  },
  'probe-schema-reach-function': {
    title: "A function the tenant's role can execute returns another tenant's data",
    finding: "Tenant {acting} reads tenant {victim}'s data through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant's role, call every function it may EXECUTE in any schema with each other tenant's schema name, role name and tenant id as arguments (and functions without arguments as they are); then remove that tenant's rows (rolled back) and call again. A result that changes means the function reads the other tenant's data for this caller — typically a SECURITY DEFINER function building SQL from a schema-name argument, executable by PUBLIC (the default).",
    remediation: `{path}: REVOKE EXECUTE ON FUNCTION {object} FROM PUBLIC; make it SECURITY INVOKER, or derive the schema from the caller (session_user) instead of an argument.`,
  },
  'probe-schema-set-role': {
    title: "A tenant's role can become another tenant's role",
    finding: "Tenant {acting}'s role can SET ROLE to tenant {victim}'s role",
    severity: 'critical',
    leakClass: 'privilege',
    leak: true,
    cwe: 'CWE-269',
    models: ['schema'],
    description:
      "In a session of each tenant's role, SET ROLE to every other tenant's role the catalog shows it a member of (directly or through a chain, with or without INHERIT) and read that tenant's tables. Success turns one tenant into the other, whatever its own grants say.",
    remediation: `{path}: REVOKE {victimRole} FROM {actingRole} (and break every chain between tenant roles); tenant roles must not be members of one another.`,
  },
  'probe-schema-shared-write': {
    title: "A tenant's role can write a table every tenant reads",
    finding: "Tenant {acting}'s role can write the shared table {object}",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-732',
    models: ['schema'],
    description:
      "As each tenant's role, write (rolled back) every table outside the tenant schemas that the catalog says it may INSERT, UPDATE, DELETE or TRUNCATE. A shared table readable by all and writable by none is shared by design; one a tenant can write lets that tenant change what every other tenant sees.",
    remediation: `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {object} FROM PUBLIC and from {actingRole}; keep shared tables read-only for tenant roles ({privileges} was granted).`,
  },
  'probe-database-read': foreignTable('database', 'read'),
  'probe-database-update': foreignTable('database', 'update'),
  'probe-database-delete': foreignTable('database', 'delete'),
  'probe-database-insert': foreignTable('database', 'insert'),
  'probe-database-connect': {
    title: "A tenant's role may connect to another tenant's database",
    finding: "Tenant {acting}'s role may connect to tenant {object}'s database",
    severity: 'high',
    leakClass: 'privilege',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description:
      "A scratch LOGIN role holding each tenant's role (created and dropped by tenantproof) logs in to each other tenant's database; where no login can be created, has_database_privilege(CONNECT) says it instead. A tenant that can connect is one grant away from the other's data.",
    remediation: `REVOKE CONNECT ON DATABASE {object} FROM PUBLIC (and from {actingRole}); GRANT CONNECT only to {victimRole}.`,
  },
  'probe-database-cross-reach': {
    title: "A tenant's role can reach other databases from its own",
    finding: "Tenant {acting}'s role can reach other databases from its own (dblink/postgres_fdw)",
    severity: 'high',
    leakClass: 'privilege',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description: "In each tenant's database, the dblink / postgres_fdw functions and foreign servers the tenant's role may use: with them a tenant opens connections to other tenants' databases from inside its own.",
    remediation: `Revoke EXECUTE on dblink functions and USAGE on foreign servers from {actingRole} (and PUBLIC) in {object}, or drop the extensions.`,
  },
  'probe-database-set-role': {
    title: "A tenant's role can become another tenant's role (database model)",
    finding: "Tenant {acting}'s role can SET ROLE to tenant {victim}'s role",
    severity: 'critical',
    leakClass: 'privilege',
    leak: true,
    cwe: 'CWE-269',
    models: ['database'],
    description:
      "In a session of each tenant's role, SET ROLE to every other tenant's role the catalog shows it a member of (directly or through a chain, with or without INHERIT): one that succeeds connects to the other tenant's database and reads its tables as that tenant.",
    remediation: `{path}: REVOKE {victimRole} FROM {actingRole} (and break every chain between tenant roles).`,
  },
  'probe-database-shared-read': {
    title: "A shared database shows a tenant other tenants' data",
    finding: "Tenant {acting} reads rows naming tenant {victim} in {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['database'],
    description:
      "Logged in for real as a scratch login holding each tenant's role (created and dropped by tenantproof), connect to every database outside the tenant databases that it can reach and read every table and view it may SELECT: rows naming another tenant (its database or role name, or a tenant column with other tenants' values) are that tenant's data crossing into this one's reach.",
    remediation: `REVOKE CONNECT ON DATABASE {database} FROM PUBLIC and REVOKE SELECT ON {table} FROM PUBLIC and from {actingRole}; per-tenant data in a shared database needs row level security keyed by the tenant, or a database per tenant.`,
  },
  'probe-database-shared-write': {
    title: "A tenant's role can write a table in a database every tenant reaches",
    finding: "Tenant {acting}'s role can write the shared table {object}",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-732',
    models: ['database'],
    description:
      "Logged in as a scratch login holding each tenant's role, write (rolled back) every table of a shared database (one holding other tenants' names, or granted to a tenant role by name) that it may INSERT, UPDATE, DELETE or TRUNCATE: a tenant that can write it changes what every tenant sees.",
    remediation: `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC and from {actingRole} in database {database} ({privileges} was granted).`,
  },
  'probe-database-foreign-reach': {
    title: "A tenant's role reads another tenant's database through a foreign server",
    finding: "Tenant {acting} reaches tenant {victim}'s database through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description:
      "In each tenant's database, as its role, read every foreign table it may SELECT whose server points at another tenant's database (and, with dblink, open the server): a query that succeeds runs in the other tenant's database with the user mapping's credentials. (Rows the probe's own world wrote are uncommitted and invisible there, so success, not a row count, is the evidence.)",
    remediation: `{path}: DROP the user mapping (or the foreign server) and REVOKE USAGE ON FOREIGN SERVER {server} FROM PUBLIC and {actingRole}; no tenant database may hold credentials for another.`,
  },
} satisfies Record<string, Declared>;

export type ProbeId = keyof typeof declared;

/** Every probe check, in report order. */
export const probeChecks: readonly ProbeCheck[] = Object.entries(declared).map(([id, d]) => ({ id: id as ProbeId, ...d }));

const byId = new Map<string, ProbeCheck>(probeChecks.map((c) => [c.id, c]));

export function probeCheckById(id: string): ProbeCheck | undefined {
  return byId.get(id);
}

/** The context probes' ids and labels, in the order they run. */
export const contextProbes: readonly { readonly id: ContextProbeId; readonly label: string }[] = Object.entries(contextChecks).map(([id, [label]]) => ({
  id: id as ContextProbeId,
  label,
}));

/** What a probe fills in; the registry adds id, title, severity, leak class, leak, CWE and the remediation. */
export interface ProbeHit {
  readonly object: string;
  readonly actingTenant?: string | undefined;
  readonly victimTenant?: string | undefined;
  readonly statement: string;
  readonly observed: unknown;
  readonly expected: unknown;
  /** Blanks of the title and remediation templates besides object, acting and victim. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Put before the remediation: what the catalog says about this object (e.g. its policies). */
  readonly hint?: string | undefined;
}

declare const fromRegistry: unique symbol;

/** An observation made through the registry: the only kind a probe may hand to `observe`. */
export type ProbeObservation = Observation & { readonly checkId: ProbeId; readonly [fromRegistry]: true };

/** Fills `{name}` blanks; a blank without a value is an error (a template and its probe disagree). */
export function fillTemplate(template: string, vars: Readonly<Record<string, string | undefined>>, id = 'template'): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${id}: no value for {${name}} in "${template}"`);
    return value;
  });
}

/** The observation of one probe hit, its metadata taken from the registry. */
export function probeFinding(id: ProbeId, hit: ProbeHit): ProbeObservation {
  const check = declared[id];
  const vars = { object: hit.object, acting: hit.actingTenant, victim: hit.victimTenant, ...hit.vars };
  const remediation = fillTemplate(check.remediation, vars, id);
  return {
    checkId: id,
    title: fillTemplate(check.finding, vars, id),
    severity: check.severity,
    leakClass: check.leakClass,
    leak: check.leak,
    object: hit.object,
    ...(hit.actingTenant !== undefined ? { actingTenant: hit.actingTenant } : {}),
    ...(hit.victimTenant !== undefined ? { victimTenant: hit.victimTenant } : {}),
    statement: hit.statement,
    observed: hit.observed,
    expected: hit.expected,
    cwe: check.cwe,
    remediation: hit.hint ? `${hit.hint} ${remediation}` : remediation,
  } as ProbeObservation;
}
