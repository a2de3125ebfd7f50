import { describe, expect, test } from 'vitest';
import { analyseExpression, splitTop, subqueryLink, type TenantPredicate } from '../../src/index.ts';

const p: TenantPredicate = { setting: 'app.current_tenant', column: 'tenant_id', helpers: ['current_tenant_id'] };
const tenant = "(tenant_id = (current_setting('app.current_tenant'::text))::uuid)";

describe('policy expressions (pg_get_expr text)', () => {
  test('splits at depth 0 only, ignoring quoted OR/AND and BETWEEN … AND', () => {
    expect(splitTop(`(${tenant} OR (name = 'a OR b'::text))`, 'OR')).toEqual([tenant, "(name = 'a OR b'::text)"]);
    expect(splitTop('((n BETWEEN 1 AND 5) AND x)', 'AND')).toEqual(['(n BETWEEN 1 AND 5)', 'x']);
    expect(splitTop('(n BETWEEN 1 AND 5 AND x)', 'AND')).toEqual(['n BETWEEN 1 AND 5', 'x']);
  });

  test.each([
    [tenant, 'bound'],
    [`(${tenant} AND is_public)`, 'bound'],
    [`(${tenant} OR is_public)`, 'widened'],
    ['true', 'unbound'],
    ["(CURRENT_USER = 'support'::name)", 'unbound'],
    ['(tenant_id = current_tenant_id())', 'bound'],
    ["(current_setting('app.current_tenant'::text) IS NOT NULL)", 'widened'],
    [`((${tenant} AND a) OR (${tenant} AND b))`, 'bound'],
  ] as const)('%s is %s', (text, expected) => {
    expect(analyseExpression(text, p).classification).toBe(expected);
  });

  test.each([
    "(tenant_id = COALESCE((NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid, tenant_id))",
    "((tenant_id)::text ~~ (current_setting('app.current_tenant'::text, true) || '%'::text))",
    `((current_setting('app.current_tenant'::text, true) = ''::text) OR ${tenant})`,
    "starts_with((tenant_id)::text, current_setting('app.current_tenant'::text, true))",
  ])('fails open: %s', (text) => {
    expect(analyseExpression(text, p).failsOpen).toHaveLength(1);
  });

  test.each([
    tenant,
    `((current_setting('app.current_tenant'::text, true) <> ''::text) AND ${tenant})`,
    "(tenant_id = (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid)",
  ])('fails closed: %s', (text) => {
    expect(analyseExpression(text, p).failsOpen).toEqual([]);
  });

  test('reports settings other than the tenant setting', () => {
    expect(analyseExpression(`(${tenant} OR (current_setting('app.is_admin'::text, true) = 'on'::text))`, p).otherSettings).toEqual(['app.is_admin']);
  });

  describe('subqueries over a parent table (as pg_get_expr deparses them)', () => {
    const correlated = '(EXISTS ( SELECT 1\n   FROM tasks t\n  WHERE (t.id = task_comments.task_id)))';
    const child: TenantPredicate = { ...p, column: null, table: 'task_comments', parentScoped: (link) => link.parent.name === 'tasks' };

    test.each([
      [correlated, { parent: { schema: null, name: 'tasks' }, pairs: [{ column: 'task_id', parentColumn: 'id' }] }],
      ['(EXISTS ( SELECT 1\n   FROM app.tasks\n  WHERE ((tasks.id = task_comments.task_id) AND (tasks.done IS NOT NULL))))', { parent: { schema: 'app', name: 'tasks' }, pairs: [{ column: 'task_id', parentColumn: 'id' }] }],
      ['(task_id IN ( SELECT t.id\n   FROM tasks t))', { parent: { schema: null, name: 'tasks' }, pairs: [{ column: 'task_id', parentColumn: 'id' }] }],
      ['(EXISTS ( SELECT 1\n   FROM tasks t))', { parent: { schema: null, name: 'tasks' }, pairs: [] }],
      ['(EXISTS ( SELECT 1\n   FROM tasks t\n  WHERE ((t.id = task_comments.task_id) OR true)))', { parent: { schema: null, name: 'tasks' }, pairs: [] }],
      ['(EXISTS ( SELECT 1\n   FROM tasks t\n  WHERE (t.id = t.id)))', { parent: { schema: null, name: 'tasks' }, pairs: [] }],
    ])('%s links to its parent', (text, link) => {
      expect(subqueryLink(text, 'task_comments')).toEqual(link);
    });

    test.each([
      '(NOT (EXISTS ( SELECT 1\n   FROM tasks t\n  WHERE (t.id = task_comments.task_id))))',
      '(EXISTS ( SELECT count(*) AS count\n   FROM tasks t\n  WHERE (t.id = task_comments.task_id)))',
      '(EXISTS ( SELECT 1\n   FROM tasks t\n  WHERE (t.id = task_comments.task_id)\nUNION ALL\n SELECT 1))',
      '(EXISTS ( SELECT 1\n   FROM (tasks t\n     JOIN projects p ON ((p.id = t.project_id)))\n  WHERE (t.id = task_comments.task_id)))',
      '(EXISTS ( SELECT 1\n   FROM tasks t,\n    projects p\n  WHERE (t.id = task_comments.task_id)))',
      '(task_id IN ( SELECT max(t.id) AS max\n   FROM tasks t))',
    ])('%s is not a plain parent subquery', (text) => {
      expect(subqueryLink(text, 'task_comments')).toBeNull();
    });

    test.each([
      [correlated, 'bound'],
      [`((body IS NOT NULL) AND ${correlated})`, 'bound'],
      [`(${correlated} OR is_public)`, 'unbound'],
      ['(EXISTS ( SELECT 1\n   FROM tasks t))', 'unbound'],
      ['(EXISTS ( SELECT 1\n   FROM other t\n  WHERE (t.id = task_comments.task_id)))', 'unbound'],
    ] as const)('%s is %s when the parent is scoped', (text, expected) => {
      expect(analyseExpression(text, child).classification).toBe(expected);
    });
  });
});

describe('caller-bound predicates (Supabase, PostGraphile, role per tenant), as PostgreSQL 15/18 deparse them', () => {
  const supabase: TenantPredicate = {
    setting: 'request.jwt.claims',
    column: 'account_id',
    helpers: [],
    table: 'documents',
    rowColumns: ['account_id', 'created_by'],
    callerFunctions: ['uid', 'is_member', 'accounts_of_user'],
    userFunctions: { uid: true, is_member: true, accounts_of_user: true, can_see: false },
  };
  test.each([
    ['(account_id IN ( SELECT accounts_of_user() AS accounts_of_user))', 'bound'],
    ['is_member(account_id)', 'bound'],
    ['(created_by = ( SELECT auth.uid() AS uid))', 'bound'],
    ["(account_id IN ( SELECT m.account_id\n   FROM account_members m\n  WHERE (m.user_id = (((current_setting('request.jwt.claims'::text, true))::json ->> 'sub'::text))::uuid)))", 'bound'],
    ['(EXISTS ( SELECT 1\n   FROM account_members m\n  WHERE ((m.account_id = documents.account_id) AND (m.user_id = auth.uid()))))', 'bound'],
    // Uncorrelated: any member of any account.
    ['(EXISTS ( SELECT 1\n   FROM account_members m\n  WHERE (m.user_id = auth.uid())))', 'unbound'],
    // The inner table's column, not the row's: always true.
    ['(EXISTS ( SELECT 1\n   FROM account_members\n  WHERE ((account_members.user_id = auth.uid()) AND (account_members.account_id = account_members.account_id))))', 'unbound'],
    ['(auth.uid() IS NOT NULL)', 'unbound'],
    ['(is_member(account_id) OR true)', 'widened'],
    // Names the row and the caller but negates, or hands the row to an unreadable helper: the probes decide.
    ['(account_id <> ALL (ARRAY( SELECT accounts_of_user() AS accounts_of_user)))', 'undecided'],
    ['can_see(account_id)', 'undecided'],
  ] as const)('%s is %s', (text, expected) => {
    expect(analyseExpression(text, supabase).classification).toBe(expected);
  });

  test('role per tenant: the tenant looked up by current_user or session_user is bound; a role check alone is not', () => {
    const rolePerTenant: TenantPredicate = { setting: 'app.current_tenant', column: 'tenant_id', helpers: [], table: 'clients' };
    expect(analyseExpression('(tenant_id = ( SELECT t.id\n   FROM tenants t\n  WHERE (t.db_user = CURRENT_USER)))', rolePerTenant).classification).toBe('bound');
    expect(analyseExpression('(tenant_id = ( SELECT t.id\n   FROM tenants t\n  WHERE (t.db_user = SESSION_USER)))', rolePerTenant).classification).toBe('bound');
    expect(analyseExpression("(CURRENT_USER = 'support'::name)", rolePerTenant).classification).toBe('unbound');
  });

  test('identity settings are the caller, not untrusted flags', () => {
    const a = analyseExpression("(organization_id IN ( SELECT m.organization_id FROM memberships m WHERE (m.session_id = (current_setting('jwt.claims.session_id'::text, true))::uuid)))", {
      setting: 'app.current_tenant',
      column: 'organization_id',
      helpers: [],
    });
    expect(a.classification).toBe('bound');
    expect(a.otherSettings).toEqual([]);
  });
});
