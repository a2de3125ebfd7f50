/** Regenerates docs/rules/ from the rule registry and the corpus: `npx tsx suites/catalog/write-docs.ts`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { expectedRuleDocs } from './rule-docs.ts';

for (const [path, text] of expectedRuleDocs()) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
console.log(`wrote ${expectedRuleDocs().size} files under docs/rules/`);
