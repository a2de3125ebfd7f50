/**
 * Static rules: checks over the catalog that find configuration which would let data cross a
 * tenant boundary tomorrow, even if no probe saw it cross today. A rule never runs SQL itself:
 * it reads the RuleContext that runStaticRules builds once (structure + security catalogs).
 */
import type { Structure } from '../../catalog/structure.ts';
import type { Relation } from '../../catalog/types.ts';
import type { IsolationModelName } from '../../target/types.ts';
import type { SecurityCatalog } from '../../catalog/security.ts';
import type { Finding, LeakClass, Severity } from '../../findings/types.ts';
import type { TargetConfig } from '../../target/types.ts';
import type { SideChannelCatalog } from './side-channels.ts';

/** A table holding tenant data, as the target's isolation model defines it. */
export interface TenantTable {
  readonly relation: Relation;
  /** The tenant column, when the table has one (rls model, column scope). */
  readonly tenantColumn: string | null;
  /** schema model: the tenant schema it lives in. */
  readonly tenantSchema: string | null;
}

/** schema/database model: one tenant's schema or database and the role that acts for it. */
export interface TenantUnit {
  readonly name: string;
  /** The per-tenant role from `target.tenantRole`, when configured. */
  readonly role: string | null;
}

/** A tenant database's own security catalog (database model: extensions are per database). */
export interface TenantDatabase extends TenantUnit {
  readonly security: SecurityCatalog | null;
}

export interface RuleContext {
  readonly target: TargetConfig;
  readonly model: IsolationModelName;
  readonly structure: Structure;
  readonly security: SecurityCatalog;
  /** Roles under test that exist: the app role and the per-tenant roles. */
  readonly subjects: readonly string[];
  readonly tenantTables: readonly TenantTable[];
  readonly tenantSchemas: readonly TenantUnit[];
  readonly tenantDatabases: readonly TenantDatabase[];
  /** The convention the catalog shows (Supabase: roles anon, authenticated, service_role and an auth schema). */
  readonly convention?: Convention;
  /** Filled by runStaticRules (introspectSideChannels); the side-channel rules are silent without it. */
  readonly sideChannels?: SideChannelCatalog;
}

/**
 * How the target tells PostgreSQL who is asking, as far as the catalog shows it. Only Supabase is
 * recognised from the catalog alone for now (the context templates and presets come later).
 */
export interface Convention {
  readonly name: 'supabase' | 'unknown';
  /** The anonymous principal's role (Supabase: `anon`), or null. */
  readonly anonymousRole: string | null;
  /** Roles that bypass row security by design (Supabase: `service_role`): info, not critical. */
  readonly bypassByDesign: readonly string[];
}

/** The nearest equivalent check in other tools, for reviewers who know them. */
export interface Equivalents {
  readonly pgtap: string | null;
  readonly supabaseLinter: string | null;
}

export interface Rule {
  /** Stable id: never reused, never renamed (reports and suppressions key on it). */
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly leakClass: LeakClass;
  /** e.g. `CWE-862`. */
  readonly cwe: string;
  readonly models: readonly IsolationModelName[];
  /** What it means and why it matters (markdown). */
  readonly description: string;
  /** How to fix it (markdown, SQL welcome). */
  readonly remediation: string;
  /** Where the check is a heuristic rather than exact, and how. */
  readonly heuristic?: string;
  readonly equivalents: Equivalents;
  check(ctx: RuleContext): Finding[] | Promise<Finding[]>;
}

/** What a rule fills in; runStaticRules adds id, title, severity, class, cwe, model, leak=false. */
export interface RuleHit {
  readonly object: string;
  readonly statement?: string;
  readonly observed?: unknown;
  readonly expected?: unknown;
  readonly remediation?: string;
  readonly actingTenant?: string;
  readonly victimTenant?: string;
}
