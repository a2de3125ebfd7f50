/**
 * The library's layout is its design: src/ reads as the pipeline target → catalog → world →
 * models → checks → findings, and verify.ts runs it. These tests keep it that way: no import
 * cycle, no runtime import of a later stage from an earlier one, no test code or test tooling.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve('src');
const stages = ['target', 'catalog', 'world', 'models', 'checks', 'findings'] as const;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Edge {
  readonly from: string;
  readonly to: string;
  /** `import type` / `export type`: erased at run time. */
  readonly typeOnly: boolean;
}

const files = filesUnder(root);
const edges: Edge[] = files.flatMap((file) => {
  const text = readFileSync(file, 'utf8');
  const out: Edge[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) out.push({ from: file, to: m[3]!, typeOnly: Boolean(m[2]) });
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push({ from: file, to: m[1]!, typeOnly: false });
  return out.map((e) => (e.to.startsWith('.') ? { ...e, to: resolve(dirname(file), e.to) } : e));
});
const local = (e: Edge) => e.to.startsWith('/');
const name = (path: string) => relative(root, path);
const stageOf = (path: string) => stages.indexOf(name(path).split('/')[0] as (typeof stages)[number]);

describe('src/ is the verifier library, laid out as its pipeline', () => {
  test('its top-level folders are the pipeline stages', () => {
    const folders = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory());
    expect(folders.sort()).toEqual([...stages].sort());
  });

  test('no import cycle (runtime imports)', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges.filter((e) => local(e) && !e.typeOnly)) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...path.slice(path.indexOf(node)), node].map(name).join(' → '));
        return;
      }
      state.set(node, 'open');
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
      state.set(node, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  // findings/types.ts is the one exception: the shape of a finding (and its severities) is the
  // contract every stage writes to, so any stage may use it; the verdict (findings/verdict.ts) is not.
  const vocabulary = join(root, 'findings', 'types.ts');
  test('no stage imports a later one at run time', () => {
    const backwards = edges
      .filter((e) => local(e) && !e.typeOnly && e.to !== vocabulary && stageOf(e.from) >= 0 && stageOf(e.to) > stageOf(e.from))
      .map((e) => `${name(e.from)} → ${name(e.to)}`);
    expect(backwards).toEqual([]);
  });

  test('no test code, test tooling or report writer in the library', () => {
    const forbidden = edges
      .filter((e) => /^(vitest|@vitest|allure|allure-vitest|allure-js-commons|testcontainers|@testcontainers\/)/.test(e.to) || /\/(fixtures|suites|reports|adapters)\//.test(e.to))
      .map((e) => `${name(e.from)} → ${e.to}`);
    expect(forbidden).toEqual([]);
  });

  test('src/index.ts lists its exports by hand: no `export *`, and every name it exports resolves', async () => {
    const text = readFileSync(join(root, 'index.ts'), 'utf8');
    expect(text.split('\n').filter((line) => /^\s*export\s*\*/.test(line))).toEqual([]);
    const library = (await import('../../src/index.ts')) as Record<string, unknown>;
    const values = [...text.matchAll(/export \{([^}]*)\} from/g)].flatMap((m) => m[1]!.split(',').map((n) => n.trim()).filter((n) => n && !n.startsWith('type ')));
    expect(values.length).toBeGreaterThan(30);
    expect(values.filter((n) => library[n] === undefined)).toEqual([]);
  });
});
