import type { Finding } from '../../findings/types.ts';
import type { Rule, RuleContext, RuleHit } from './types.ts';

type RuleMeta = Omit<Rule, 'check'>;

/**
 * Declares a rule: metadata plus a check that reports hits. Every finding gets the rule's id,
 * title, severity, leak class, CWE, the target's model and (unless the hit names a more precise
 * one) the rule's remediation.
 */
export function defineRule(meta: RuleMeta, check: (ctx: RuleContext) => RuleHit[] | Promise<RuleHit[]>): Rule {
  const rule: Rule = {
    ...meta,
    async check(ctx: RuleContext): Promise<Finding[]> {
      const hits = await check(ctx);
      return hits.map((h) => toFinding(rule, ctx, h));
    },
  };
  return rule;
}

export function toFinding(rule: RuleMeta, ctx: RuleContext, hit: RuleHit): Finding {
  return {
    checkId: rule.id,
    title: rule.title,
    severity: rule.severity,
    leakClass: rule.leakClass,
    leak: false,
    model: ctx.model,
    object: hit.object,
    ...(hit.actingTenant !== undefined ? { actingTenant: hit.actingTenant } : {}),
    ...(hit.victimTenant !== undefined ? { victimTenant: hit.victimTenant } : {}),
    ...(hit.statement !== undefined ? { statement: hit.statement } : {}),
    ...(hit.observed !== undefined ? { observed: hit.observed } : {}),
    ...(hit.expected !== undefined ? { expected: hit.expected } : {}),
    cwe: rule.cwe,
    remediation: hit.remediation ?? firstParagraph(rule.remediation),
  };
}

function firstParagraph(markdown: string): string {
  return markdown.split(/\n\s*\n/)[0]!.replace(/\s+/g, ' ').trim();
}
