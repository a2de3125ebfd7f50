/**
 * Definition classes: tenant-scoped tables whose definitions are the same but for their names —
 * the same columns (names, types, defaults, identity, nullability, column grants), constraints,
 * indexes, row level security flags, policies (command, roles, permissive or restrictive, USING
 * and WITH CHECK), grants, owner, triggers, rules, reloptions, partition and inheritance parents,
 * and foreign keys to tables that are themselves of one class. A schema generated from one template
 * (every table `tenant_id = current_setting(…)`, the Supabase and Rails habit) has a handful of
 * classes for dozens of tables.
 *
 * PostgreSQL decides what a probe sees from exactly these definitions, so two tables of one class
 * answer a probe in the same way for the same rows: the engine probes every class in every world
 * and every table in some of them (checks/probes/engine.ts). Anything the signature leaves out
 * could only split a class further, never join two tables that differ: where a definition names its
 * own table (a policy's subquery on the same table, a serial column's sequence) the name is replaced
 * by a placeholder, and every other name stays as it is.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../target/connection.ts';

/** A class of tables with one definition, and its members (labels, sorted). */
export interface DefinitionClass {
  readonly signature: string;
  readonly members: readonly string[];
}

interface Part {
  readonly oid: number;
  readonly part: string;
}

/** One row per relation and aspect of its definition, as text that still names the relation itself. */
const definitionSql = `
with rel as (select c.oid, c.relname, n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = any($1::oid[]))
select rel.oid::int as oid, 'relation ' || concat_ws(' | ', c.relkind, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner),
         array_to_string(c.reloptions, ','), c.relispartition, coalesce(pg_get_expr(c.relpartbound, c.oid), ''),
         coalesce((select string_agg(format('%s=%s', coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC'), a.privilege_type), ',' order by 1)
                   from aclexplode(c.relacl) a), 'default')) as part
  from rel join pg_class c on c.oid = rel.oid
union all
select rel.oid::int, 'inherits ' || i.inhparent::regclass::text from rel join pg_inherits i on i.inhrelid = rel.oid
union all
select rel.oid::int, 'column ' || concat_ws(' | ', a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
         coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attcollation,
         coalesce(array_to_string(a.attacl, ','), ''),
         coalesce((select array_to_string(s.relacl, ',') from pg_class s where s.oid = pg_get_serial_sequence(quote_ident(rel.nspname) || '.' || quote_ident(rel.relname), a.attname)::regclass), ''))
  from rel join pg_attribute a on a.attrelid = rel.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
union all
select rel.oid::int, 'constraint ' || concat_ws(' | ', k.contype, k.condeferrable, k.condeferred, k.convalidated,
         case when k.contype = 'f' then format('(%s) -> @rel%s (%s) %s %s %s', (select string_agg(a.attname, ',' order by u.i) from unnest(k.conkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n),
              k.confrelid, (select string_agg(a.attname, ',' order by u.i) from unnest(k.confkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n),
              k.confupdtype, k.confdeltype, k.confmatchtype)
              else pg_get_constraintdef(k.oid) end)
  from rel join pg_constraint k on k.conrelid = rel.oid
union all
select rel.oid::int, 'index ' || concat_ws(' | ', x.indisunique, x.indisprimary,
         regexp_replace(pg_get_indexdef(x.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON ', ''))
  from rel join pg_index x on x.indrelid = rel.oid
union all
select rel.oid::int, 'policy ' || concat_ws(' | ', p.polcmd, p.polpermissive,
         (select string_agg(case when r = 0 then 'PUBLIC' else r::regrole::text end, ',' order by 1) from unnest(p.polroles) r),
         coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''))
  from rel join pg_policy p on p.polrelid = rel.oid
union all
select rel.oid::int, 'trigger ' || concat_ws(' | ', t.tgenabled, regexp_replace(pg_get_triggerdef(t.oid), '^CREATE (CONSTRAINT )?TRIGGER \\S+ ', ''))
  from rel join pg_trigger t on t.tgrelid = rel.oid and not t.tgisinternal
union all
select rel.oid::int, 'rule ' || regexp_replace(pg_get_ruledef(w.oid), '^CREATE RULE \\S+ AS', '')
  from rel join pg_rewrite w on w.ev_class = rel.oid
`;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Groups the tables (`oid` → label) into definition classes. A foreign key's referenced table is
 * written as its own class when it is one of the tables (resolved parents first; a cycle keeps
 * the referenced table's name), so chains of tables built alike fall into one class per link.
 */
export async function findDefinitionClasses(q: Queryable, tables: ReadonlyMap<number, { readonly label: string; readonly schema: string; readonly name: string }>): Promise<DefinitionClass[]> {
  if (tables.size === 0) return [];
  const { rows } = await q.query<Part>(definitionSql, [[...tables.keys()]]);
  const parts = new Map<number, string[]>();
  for (const r of rows) {
    const t = tables.get(r.oid);
    if (!t) continue;
    // The table's own name (and its serial sequences, named after it) as a placeholder; never a name
    // qualified by another schema (`archive.orders` in a policy of public.orders is another table),
    // nor one inside a string literal (`may_read('orders')` may answer per table name).
    const own = new RegExp(`(?<![\\w."'])("?${escapeRegExp(t.schema)}"?\\.)?("${escapeRegExp(t.name)}"|\\b${escapeRegExp(t.name)}\\b)`, 'g');
    const part = r.part.replace(/nextval\('(?:[^']|'')*'::regclass\)/g, 'nextval(@sequence)').replace(own, '@self');
    (parts.get(r.oid) ?? parts.set(r.oid, []).get(r.oid)!).push(part);
  }
  const signatures = new Map<number, string>();
  const resolving = new Set<number>();
  const signatureOf = (oid: number): string => {
    const known = signatures.get(oid);
    if (known) return known;
    resolving.add(oid);
    const text = (parts.get(oid) ?? [])
      .map((part) =>
        part.replace(/@rel(\d+)/g, (_, ref: string) => {
          const refOid = Number(ref);
          if (refOid === oid) return '@self';
          if (tables.has(refOid) && !resolving.has(refOid)) return `@class:${signatureOf(refOid)}`;
          return `@table:${refOid}`;
        }),
      )
      .sort()
      .join('\n');
    resolving.delete(oid);
    const signature = createHash('sha256').update(text).digest('hex').slice(0, 16);
    signatures.set(oid, signature);
    return signature;
  };
  const classes = new Map<string, string[]>();
  for (const [oid, t] of tables) {
    const signature = signatureOf(oid);
    (classes.get(signature) ?? classes.set(signature, []).get(signature)!).push(t.label);
  }
  return [...classes].map(([signature, members]) => ({ signature, members: members.sort() })).sort((a, b) => a.members[0]!.localeCompare(b.members[0]!));
}

/**
 * The tables to probe in the `run`-th world (1-based), `perClass` of each class, rotating through
 * its members so that every table comes round; every table when `full`.
 */
export function tablesForRun(classes: readonly DefinitionClass[], run: number, perClass: number, full: boolean): Set<string> {
  const chosen = new Set<string>();
  for (const c of classes) {
    if (full || c.members.length <= perClass) {
      for (const m of c.members) chosen.add(m);
      continue;
    }
    for (let j = 0; j < perClass; j++) chosen.add(c.members[((run - 1) * perClass + j) % c.members.length]!);
  }
  return chosen;
}
