import { describe, expect, test } from 'vitest';
import { analyseExpression, splitTop, type TenantPredicate } from '../../fixtures/rules/index.ts';

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
});
