/**
 * The vitest adapter over verify(): a correct corpus schema declares one test per table and leak
 * class, and the proof tests; they run here, green. (The adapter's red side is verify()'s own,
 * covered by the cli and isolation suites: the adapter only maps findings and notProven to tests.)
 */
import { afterAll } from 'vitest';
import { describeTenantIsolation } from '../../adapters/vitest.ts';
import { corpus } from '../isolation/corpus.ts';
import { openCorpusTarget } from '../isolation/harness.ts';

const correct = corpus.find((s) => s.flaw === null)!;
const opened = await openCorpusTarget(correct);
afterAll(() => opened.close());
await describeTenantIsolation({ databaseUrl: opened.target.databaseUrl, model: 'rls', appRole: opened.target.appRole }, { runs: 4, seed: 11 });
