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
