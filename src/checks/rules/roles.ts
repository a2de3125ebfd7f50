/**
 * Role rules: attributes and memberships that put a role under test above row security, and
 * table privileges that row security does not govern.
 */
import { PUBLIC } from '../../catalog/security.ts';
import { databaseCatalogs, hasPrivilegesOf, membershipPath, nameOf, ownershipOf, privilegesOn, roleOf, sqlIdent, sqlName } from './context.ts';
import { defineRule } from './define.ts';
import type { RuleHit } from './types.ts';

export const appRoleSuperuser = defineRule(
  {
    id: 'app-role-superuser',
    title: 'Role under test is a superuser',
    severity: 'critical',
    leakClass: 'privilege',
    cwe: 'CWE-250',
    models: ['rls', 'schema', 'database'],
    description:
      'A superuser skips every permission check and every row level security policy (FORCE included), can read every schema and database, and can turn isolation off. Whatever the policies say, the application role sees all tenants.',
    remediation: 'Connect the application as an ordinary role: `ALTER ROLE app_user NOSUPERUSER;` and keep superuser for administration only.',
    equivalents: { pgtap: 'is_superuser / isnt_superuser', supabaseLinter: 'none' },
  },
  (ctx) =>
    ctx.subjects
      .filter((s) => roleOf(ctx.security, s)?.superuser)
      .map((s) => ({ object: `role ${s}`, observed: { role: s, rolsuper: true }, remediation: `ALTER ROLE ${sqlIdent(s)} NOSUPERUSER;` })),
);

export const appRoleBypassRls = defineRule(
  {
    id: 'app-role-bypassrls',
    title: 'Role under test has BYPASSRLS',
    severity: 'critical',
    leakClass: 'privilege',
    cwe: 'CWE-269',
    models: ['rls', 'schema', 'database'],
    description: 'BYPASSRLS exempts the role from every row level security policy: in the rls model it reads and writes every tenant\'s rows.',
    remediation: '`ALTER ROLE app_user NOBYPASSRLS;` — keep BYPASSRLS for maintenance roles the application never uses.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    ctx.subjects
      .filter((s) => {
        const r = roleOf(ctx.security, s);
        return r?.bypassRls && !r.superuser;
      })
      .map((s) => ({ object: `role ${s}`, observed: { role: s, rolbypassrls: true }, remediation: `ALTER ROLE ${sqlIdent(s)} NOBYPASSRLS;` })),
);

export const appRoleCanAssumePrivilegedRole = defineRule(
  {
    id: 'app-role-can-assume-privileged-role',
    title: 'Role under test can SET ROLE to a superuser or BYPASSRLS role',
    severity: 'critical',
    leakClass: 'privilege',
    cwe: 'CWE-269',
    models: ['rls', 'schema', 'database'],
    description:
      'Role attributes are not inherited, but membership lets a session `SET ROLE` to the member\'s roles. The role under test is (directly or through other roles) a member of a role that is superuser or has BYPASSRLS, so one `SET ROLE` statement — from an SQL injection, say — escapes isolation.',
    remediation: 'Revoke the membership: `REVOKE admin_role FROM app_user;` (follow the path in the finding; revoke the first grant you control).',
    equivalents: { pgtap: 'is_member_of / isnt_member_of (membership only)', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const subject of ctx.security.subjects.filter((s) => s.exists && ctx.subjects.includes(s.name))) {
      if (roleOf(ctx.security, subject.name)?.superuser) continue;
      for (const r of subject.roles) {
        const role = roleOf(ctx.security, r.role);
        if (!r.set || !(role?.superuser || role?.bypassRls)) continue;
        if (!role.superuser && ctx.convention?.bypassByDesign.includes(r.role)) continue; // service-role-bypass-by-design, at info
        const path = membershipPath(ctx.security, subject.name, r.role);
        hits.push({
          object: `role ${subject.name}`,
          remediation: `REVOKE ${sqlIdent(path?.[1] ?? r.role)} FROM ${sqlIdent(subject.name)};`,
          observed: {
            role: subject.name,
            canSetRoleTo: r.role,
            attributes: [role.superuser ? 'SUPERUSER' : null, role.bypassRls ? 'BYPASSRLS' : null].filter(Boolean),
            path,
          },
        });
      }
    }
    return hits;
  },
);

const dangerous = ['TRUNCATE', 'REFERENCES', 'TRIGGER'] as const;

export const dangerousGrantOnTenantTable = defineRule(
  {
    id: 'dangerous-grant-on-tenant-table',
    title: 'TRUNCATE, REFERENCES or TRIGGER granted on a tenant table',
    severity: 'high',
    leakClass: 'write',
    cwe: 'CWE-732',
    models: ['rls'],
    description:
      'Row level security governs SELECT/INSERT/UPDATE/DELETE only. TRUNCATE empties the table for every tenant; REFERENCES lets the role build foreign keys that probe other tenants\' keys (an existence oracle); TRIGGER lets it attach code that runs on other tenants\' writes.',
    remediation: '`REVOKE TRUNCATE, REFERENCES, TRIGGER ON t FROM app_user;` (and from PUBLIC, and from roles app_user inherits from).',
    equivalents: { pgtap: 'table_privs_are', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const t of ctx.tenantTables) {
      for (const subject of ctx.subjects) {
        const role = roleOf(ctx.security, subject);
        if (role?.superuser) continue; // app-role-superuser
        if (ownershipOf(ctx.security, subject, t.relation.owner)) continue; // ownership: rls-not-forced / app-role-owns-tenant-table
        const held = privilegesOn(ctx, subject, t.relation);
        const found = dangerous.filter((p) => held.has(p));
        if (found.length > 0) {
          hits.push({
            object: nameOf(t.relation),
            observed: { role: subject, privileges: found },
            remediation: `REVOKE ${found.join(', ')} ON ${sqlName(t.relation)} FROM ${sqlIdent(subject)}; (and from PUBLIC or the role it inherits them from; column REFERENCES: REVOKE REFERENCES (…) ON …)`,
          });
        }
      }
    }
    return hits;
  },
);

export const tenantsTableWithoutRls = defineRule(
  {
    id: 'tenants-table-without-rls',
    title: 'The tenants table is readable by the app role without row level security',
    severity: 'medium',
    leakClass: 'read',
    cwe: 'CWE-200',
    models: ['rls'],
    description:
      'The table listing tenants is not tenant-scoped by a column, so the other rules do not cover it — but it names every customer (and often their plan, status and settings). Readable without row level security, any tenant context lists all of them.',
    remediation:
      'Protect it like the tenant tables, keyed by its id: `ALTER TABLE tenants ENABLE ROW LEVEL SECURITY; ALTER TABLE tenants FORCE ROW LEVEL SECURITY; CREATE POLICY tenant_isolation ON tenants TO app_user USING (id = current_setting(\'app.current_tenant\')::uuid);` — and serve lookups that must precede a tenant context (login by slug) through a narrow SECURITY DEFINER function.',
    equivalents: { pgtap: 'none', supabaseLinter: '0013_rls_disabled_in_public (any table)' },
  },
  (ctx) => {
    const tenants = ctx.structure.tenantTable;
    if (!tenants || tenants.rlsEnabled) return [];
    return ctx.subjects
      .filter((s) => !roleOf(ctx.security, s)?.superuser && privilegesOn(ctx, s, tenants).has('SELECT'))
      .map((s) => ({
        object: nameOf(tenants),
        observed: { role: s, rlsEnabled: false },
        remediation: `ALTER TABLE ${sqlName(tenants)} ENABLE ROW LEVEL SECURITY; ALTER TABLE ${sqlName(tenants)} FORCE ROW LEVEL SECURITY; CREATE POLICY tenant_isolation ON ${sqlName(tenants)} TO ${sqlIdent(s)} USING (id = current_setting('${ctx.target.tenantSetting}')::<type>);`,
      }));
  },
);

const riskyDefaults = new Set(['TRUNCATE', 'REFERENCES', 'TRIGGER']);

export const defaultPrivilegesTooBroad = defineRule(
  {
    id: 'default-privileges-too-broad',
    title: 'Default privileges will over-grant future tables',
    severity: 'medium',
    leakClass: 'privilege',
    cwe: 'CWE-276',
    models: ['rls', 'schema', 'database'],
    description:
      '`ALTER DEFAULT PRIVILEGES` makes every table a role creates from now on come with these grants: table privileges for PUBLIC (every role, every tenant\'s), or TRUNCATE/REFERENCES/TRIGGER — which row level security does not govern — for a role under test. The next migration\'s table is exposed before anyone looks at it.',
    remediation: '`ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA s] REVOKE ALL ON TABLES FROM PUBLIC;` and grant only SELECT/INSERT/UPDATE/DELETE to the app role.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const { security, where } of databaseCatalogs(ctx)) {
      for (const d of security.defaultPrivileges.filter((x) => x.objectType === 'table')) {
        const toPublic = d.grants.filter((g) => g.grantee === PUBLIC).map((g) => `${g.privilege} to PUBLIC`);
        const risky = d.grants
          .filter((g) => g.grantee !== PUBLIC && riskyDefaults.has(g.privilege) && ctx.subjects.some((s) => hasPrivilegesOf(ctx.security, s, g.grantee)))
          .map((g) => `${g.privilege} to ${g.grantee}`);
        if (toPublic.length + risky.length > 0) {
          hits.push({ object: `default privileges for role ${d.role}${d.schema ? ` in schema ${d.schema}` : ''}${where}`, observed: { grants: [...toPublic, ...risky] } });
        }
      }
    }
    return hits;
  },
);
