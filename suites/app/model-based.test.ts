/**
 * Model-based isolation property (fast-check commands): random sequences of project operations by
 * two tenants, each mixed with attempts on the other tenant's ids, against a model of what each
 * tenant owns. After every command the acting tenant's list, stats and by-id answers must match the
 * model. The seed is pinned (and printed in the title); TENANTPROOF_SEED replays another one.
 *
 * Every run tries an existing foreign project, by construction: each tenant starts with generated
 * projects and creates one more before the closing reads, a command aimed at the other tenant runs
 * only while that tenant owns something, and each run ends with both tenants reading the other's
 * project by id. Red half: the same property, at the same run count, fails against the variants
 * that leak projects — on an isolation assertion, not on anything else.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { VulnerabilityName } from '../../reference-app/src/index.ts';
import { signUp, startTestApp, type ApiClient, type SignedUpTenant, type TestApp } from './harness.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20261125);
/** Green and red alike: a red case that needs more runs than the green one shows teeth the green one lacks. */
const numRuns = 12;

interface ProjectState {
  name: string;
  budgetCents: number;
}
/** What each tenant owns, by project id. */
interface Model {
  readonly owned: [Map<string, ProjectState>, Map<string, ProjectState>];
}
interface Real {
  readonly client: ApiClient;
  readonly tenants: [SignedUpTenant, SignedUpTenant];
  /** Requests of this run aimed at a project the other tenant owned at the time. */
  readonly tried: { existingForeign: number };
}
type ProjectCommand = fc.AsyncCommand<Model, Real>;

const other = (tenant: 0 | 1): 0 | 1 => (tenant === 0 ? 1 : 0);
const pickId = (ids: Map<string, ProjectState>, pick: number) => [...ids.keys()][pick % Math.max(ids.size, 1)];
const unknownId = '00000000-0000-4000-8000-000000000000';

class Create implements ProjectCommand {
  constructor(readonly tenant: 0 | 1, readonly name: string, readonly budgetCents: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const response = await r.client.post('/projects', { token: r.tenants[this.tenant].token, body: { name: this.name, budgetCents: this.budgetCents } });
    expect(response.status).toBe(201);
    m.owned[this.tenant].set(response.body.id, { name: this.name, budgetCents: this.budgetCents });
  }
  toString = () => `Create(t${this.tenant}, ${JSON.stringify(this.name)}, ${this.budgetCents})`;
}

/** An attempt on the other tenant's project runs only while that tenant owns one (never a made-up id). */
const foreignExists = (m: Model, tenant: 0 | 1) => m.owned[other(tenant)].size > 0;

class Rename implements ProjectCommand {
  constructor(readonly tenant: 0 | 1, readonly foreign: boolean, readonly pick: number, readonly name: string) {}
  check = (m: Readonly<Model>) => !this.foreign || foreignExists(m, this.tenant);
  async run(m: Model, r: Real) {
    const owner = this.foreign ? other(this.tenant) : this.tenant;
    const id = pickId(m.owned[owner], this.pick) ?? unknownId;
    if (this.foreign) r.tried.existingForeign += 1;
    const response = await r.client.patch(`/projects/${id}`, { token: r.tenants[this.tenant].token, body: { name: this.name } });
    const mine = m.owned[this.tenant].get(id);
    if (mine) {
      expect(response.status).toBe(200);
      mine.name = this.name;
    } else {
      expect(response.status, `t${this.tenant} renamed t${owner}'s project ${id}`).toBe(404);
    }
  }
  toString = () => `Rename(t${this.tenant}, ${this.foreign ? 'foreign' : 'own'} #${this.pick}, ${JSON.stringify(this.name)})`;
}

class Remove implements ProjectCommand {
  constructor(readonly tenant: 0 | 1, readonly foreign: boolean, readonly pick: number) {}
  check = (m: Readonly<Model>) => !this.foreign || foreignExists(m, this.tenant);
  async run(m: Model, r: Real) {
    const owner = this.foreign ? other(this.tenant) : this.tenant;
    const id = pickId(m.owned[owner], this.pick) ?? unknownId;
    if (this.foreign) r.tried.existingForeign += 1;
    const response = await r.client.delete(`/projects/${id}`, { token: r.tenants[this.tenant].token });
    if (m.owned[this.tenant].delete(id)) expect(response.status).toBe(204);
    else expect(response.status, `t${this.tenant} deleted t${owner}'s project ${id}`).toBe(404);
  }
  toString = () => `Remove(t${this.tenant}, ${this.foreign ? 'foreign' : 'own'} #${this.pick})`;
}

class Observe implements ProjectCommand {
  constructor(readonly tenant: 0 | 1, readonly pick: number) {}
  check = (m: Readonly<Model>) => foreignExists(m, this.tenant);
  async run(m: Model, r: Real) {
    const token = r.tenants[this.tenant].token;
    const expected = m.owned[this.tenant];
    const list = await r.client.get('/projects?limit=200', { token });
    const seen = Object.fromEntries(list.body.projects.map((p: { id: string; name: string; budgetCents: number }) => [p.id, { name: p.name, budgetCents: p.budgetCents }]));
    expect(seen, `t${this.tenant}'s list`).toEqual(Object.fromEntries(expected));
    const stats = await r.client.get('/stats', { token });
    const budget = [...expected.values()].reduce((sum, p) => sum + p.budgetCents, 0);
    expect({ projects: stats.body.projects, budgetCents: stats.body.budgetCents }, `t${this.tenant}'s stats`).toEqual({ projects: expected.size, budgetCents: budget });
    const foreignId = pickId(m.owned[other(this.tenant)], this.pick)!;
    r.tried.existingForeign += 1;
    expect((await r.client.get(`/projects/${foreignId}`, { token })).status, `t${this.tenant} read a foreign project`).toBe(404);
  }
  toString = () => `Observe(t${this.tenant}, #${this.pick})`;
}

const tenant = fc.constantFrom<0 | 1>(0, 1);
const name = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim().length > 0 && s.trim() === s && !/[\u0000-\u001f\u007f]/.test(s));
const commands = fc.commands(
  [
    fc.tuple(tenant, name, fc.integer({ min: 0, max: 1_000_000 })).map(([t, n, b]) => new Create(t, n, b)),
    fc.tuple(tenant, fc.boolean(), fc.nat(10), name).map(([t, f, p, n]) => new Rename(t, f, p, n)),
    fc.tuple(tenant, fc.boolean(), fc.nat(10)).map(([t, f, p]) => new Remove(t, f, p)),
    fc.tuple(tenant, fc.nat(10)).map(([t, p]) => new Observe(t, p)),
  ],
  { maxCommands: 25 },
);

const budget = fc.integer({ min: 0, max: 1_000_000 });
/** Projects a tenant owns before the commands (at least one each) and creates before the closing reads. */
const owned = (t: 0 | 1) => fc.array(fc.tuple(name, budget), { minLength: 1, maxLength: 3 }).map((ps) => ps.map(([n, b]) => new Create(t, n, b)));
const closing = (t: 0 | 1) => fc.tuple(name, budget).map(([n, b]) => new Create(t, n, b));

/** What one run of the property did; `existingForeign` ≥ 2 in every run (the two closing reads). */
interface RunRecord {
  readonly existingForeign: number;
}

function isolationProperty(t: TestApp, record: RunRecord[] = []) {
  return fc.asyncProperty(owned(0), owned(1), commands, closing(0), closing(1), async (first0, first1, cmds, last0, last1) => {
    const tenants: [SignedUpTenant, SignedUpTenant] = [await signUp(t.client, 'left'), await signUp(t.client, 'right')];
    const tried = { existingForeign: 0 };
    try {
      await fc.asyncModelRun(
        () => ({ model: { owned: [new Map(), new Map()] as Model['owned'] }, real: { client: t.client, tenants, tried } }),
        [...first0, ...first1, ...cmds, last0, last1, new Observe(0, 0), new Observe(1, 0)],
      );
    } finally {
      record.push({ existingForeign: tried.existingForeign });
    }
  });
}

/** The assertions of the property that mean "one tenant reached another's projects". */
const isolationFailure = /t[01] (read a foreign project|renamed t[01]'s project|deleted t[01]'s project)|t[01]'s (list|stats)/;

describe(`model-based project isolation (seed=${seed})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  test('holds on the correct app, every run having tried an existing foreign project', async () => {
    const runs: RunRecord[] = [];
    await fc.assert(isolationProperty(t, runs), { seed, numRuns });
    expect(runs).toHaveLength(numRuns);
    for (const [i, run] of runs.entries()) expect(run.existingForeign, `run ${i + 1} never aimed at an existing foreign project`).toBeGreaterThanOrEqual(2);
    expect(t.app.poolStats().checkedOut).toBe(0);
  }, 120_000);
});

describe.each<VulnerabilityName>(['rls-not-forced', 'idor-by-id', 'stats-unscoped'])(`red case (seed=${seed}): %s`, (vulnerability) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ vulnerabilities: [vulnerability] });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('the property fails and names the counterexample', async () => {
    const details = await fc.check(isolationProperty(t), { seed, numRuns, endOnFailure: true });
    expect(details.failed).toBe(true);
    expect(fc.stringify(details.counterexample)).toMatch(/Create\(t[01], /);
    expect(String(details.errorInstance)).toMatch(isolationFailure);
  }, 120_000);
});
