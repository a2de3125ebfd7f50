/** The rule reference as it should be on disk: docs/rules/<id>.md for every rule, plus README.md. */
import { rules } from '../../src/index.ts';
import { renderRuleIndex, renderRulePage } from '../../src/index.ts';
import { corpus } from './corpus.ts';
import { conventionCorpus } from './conventions.ts';

export function expectedRuleDocs(): Map<string, string> {
  const docs = new Map<string, string>();
  for (const rule of rules) {
    const examples = [
      ...corpus.filter((e) => e.rule === rule.id).map((e) => ({ title: e.title, setup: e.setup, fix: e.fix, model: e.model ?? 'rls' })),
      ...conventionCorpus.filter((e) => e.rule === rule.id).map((e) => ({ title: e.title, setup: e.setup, fix: e.fix, model: `rls, ${e.convention} convention` })),
    ];
    docs.set(`docs/rules/${rule.id}.md`, renderRulePage(rule, examples));
  }
  docs.set('docs/rules/README.md', renderRuleIndex(rules));
  return docs;
}
