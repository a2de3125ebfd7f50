/**
 * What a verification could not probe is said once and never contradicts a finding: a table
 * listed as not probed carries no finding, and a probe that could not act is listed only where no
 * run of it did act.
 */
import { describe, expect, test } from 'vitest';
import { notProvenBy, probeCouldNotAct, ProbeCoverage } from '../../src/index.ts';

describe('probe coverage across runs', () => {
  test('a table no run could fill is not probed, with the reason', () => {
    const c = new ProbeCoverage();
    c.tableSkipped('public.codes', 'cannot write generated rows into public.codes: check violation');
    c.tableSkipped('public.codes', 'cannot write generated rows into public.codes: check violation');
    c.tableProbed('public.tasks');
    expect(c.skippedTables([])).toEqual([{ table: 'public.codes', reason: 'cannot write generated rows into public.codes: check violation' }]);
  });

  test('a table some runs probed says in how many runs it was not; with a finding it is not listed at all', () => {
    const c = new ProbeCoverage();
    c.tableSkipped('public.tasks', 'unique violation');
    c.tableProbed('public.tasks');
    c.tableProbed('public.tasks');
    expect(c.skippedTables([])).toEqual([{ table: 'public.tasks', reason: 'in 1 of 3 runs: unique violation' }]);
    expect(c.skippedTables([{ object: 'public.tasks' }])).toEqual([]);
  });

  test('a probe that could not act is listed unless a run of it acted and found something, or its table was never probed', () => {
    const c = new ProbeCoverage();
    c.tableProbed('public.tasks');
    c.probeCouldNotAct('public.tasks', 'probe-write-insert-foreign', '22P02: malformed array literal: "[]"');
    c.probeCouldNotAct('public.tasks', 'probe-write-update-foreign', '22023: no');
    c.tableSkipped('public.codes', 'check violation');
    c.probeCouldNotAct('public.codes', 'probe-write-insert-foreign', '22023: no');
    const listed = c.probesNotActed([{ object: 'public.tasks', checkId: 'probe-write-update-foreign' }]);
    expect(listed).toEqual([{ object: 'public.tasks', checkId: 'probe-write-insert-foreign', reason: '22P02: malformed array literal: "[]"' }]);
    const notProven = notProvenBy({ runs: 1, runsExecuted: 1, runsWithForeignRows: 1, findings: [{ leak: true }], skippedTables: [], probesNotActed: listed });
    expect(notProven).toEqual([{ object: 'public.tasks', reason: 'probe-write-insert-foreign could not act: 22P02: malformed array literal: "[]"' }]);
  });

  test('data exceptions and statement errors mean the probe could not act; refusals mean isolation held', () => {
    for (const code of ['22P02', '22003', '22023', '42601', '42804']) expect(probeCouldNotAct(code), code).toBe(true);
    for (const code of ['42501', '23503', '23505', '23514', 'P0001', '0A000', undefined]) expect(probeCouldNotAct(code), String(code)).toBe(false);
  });
});
