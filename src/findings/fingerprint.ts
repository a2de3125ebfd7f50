/**
 * A finding's fingerprint: the same finding gets the same id across runs and seeds, so baselines,
 * SARIF code scanning and diffs can follow it. It is the check, the model and the object — and,
 * in the schema and database models, the acting and victim tenants, which are real schema or
 * database names there. In the rls model tenants are generated per seed, so they are left out
 * (the probes keep one finding per check and object anyway), and so is the statement.
 */
import { createHash } from 'node:crypto';
import type { Finding } from './types.ts';

export function fingerprint(f: Pick<Finding, 'checkId' | 'model' | 'object' | 'actingTenant' | 'victimTenant'>): string {
  const tenants = f.model === 'rls' ? ['', ''] : [f.actingTenant ?? '', f.victimTenant ?? ''];
  const key = [f.checkId, f.model, f.object, ...tenants].join('\u0000');
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
