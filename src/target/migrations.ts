/**
 * A folder of migrations, read as the tool that wrote it lays it out, and applied in order to a
 * database (the throwaway server of `verify --migrations DIR`):
 *
 * - **Drizzle**: `meta/_journal.json` orders `NNNN_name.sql`; statements are separated by
 *   `--> statement-breakpoint` and run one by one.
 * - **Prisma**: `migration_lock.toml` and `<timestamp>_name/migration.sql`, in folder-name order.
 * - **node-pg-migrate**: `<timestamp>_name.sql` with `-- Up Migration` / `-- Down Migration`
 *   (only the up part runs). Its JavaScript/TypeScript migrations need node-pg-migrate itself to
 *   run: refused with one line.
 * - **plain**: every `.sql` file in name order (numbers compared as numbers: 2_ before 10_).
 *
 * A migration PostgreSQL refuses stops everything with one line naming the file and its message.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CannotRunError } from '../errors.ts';
import { withClient } from './connection.ts';

export type MigrationLayout = 'drizzle' | 'prisma' | 'node-pg-migrate' | 'plain';

export interface MigrationStep {
  /** The file, relative to the migrations folder. */
  readonly file: string;
  /** The SQL sent to PostgreSQL, one element per statement batch. */
  readonly batches: readonly string[];
}

export interface MigrationPlan {
  readonly dir: string;
  readonly layout: MigrationLayout;
  readonly steps: readonly MigrationStep[];
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const scriptMigration = /\.(c|m)?(js|ts)$/;

/** Reads the folder and says in which order which SQL runs. Bad folders are one-line CannotRunErrors. */
export function readMigrations(dir: string): MigrationPlan {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CannotRunError(`--migrations ${dir}: no such folder`);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  const entries = readdirSync(dir).sort(byName);

  if (existsSync(join(dir, 'meta', '_journal.json'))) {
    let journal: { entries?: { idx?: number; tag?: string }[] };
    try {
      journal = JSON.parse(readFileSync(join(dir, 'meta', '_journal.json'), 'utf8')) as typeof journal;
    } catch (error) {
      throw new CannotRunError(`--migrations ${dir}: meta/_journal.json is not JSON (${(error as Error).message.split('\n')[0]})`);
    }
    const ordered = [...(journal.entries ?? [])].sort((a, b) => (a.idx ?? 0) - (b.idx ?? 0));
    const steps = ordered.map((entry) => {
      const file = `${entry.tag}.sql`;
      if (!entry.tag || !existsSync(join(dir, file))) throw new CannotRunError(`--migrations ${dir}: meta/_journal.json names ${file}, which is not there`);
      return { file, batches: read(file).split(/-->\s*statement-breakpoint/).map((s) => s.trim()).filter(Boolean) };
    });
    return nonEmpty({ dir, layout: 'drizzle', steps });
  }

  const prismaFolders = entries.filter((name) => statSync(join(dir, name)).isDirectory() && existsSync(join(dir, name, 'migration.sql')));
  if (existsSync(join(dir, 'migration_lock.toml')) || prismaFolders.length > 0) {
    const steps = prismaFolders.map((name) => ({ file: `${name}/migration.sql`, batches: [read(join(name, 'migration.sql'))] }));
    return nonEmpty({ dir, layout: 'prisma', steps });
  }

  const scripts = entries.filter((name) => scriptMigration.test(name) && !name.endsWith('.d.ts'));
  if (scripts.length > 0) {
    throw new CannotRunError(
      `--migrations ${dir}: ${scripts[0]} is a JavaScript/TypeScript migration (node-pg-migrate), which tenantproof cannot run: write SQL migrations, or apply them with your tool and pass --database-url`,
    );
  }
  const sqlFiles = entries.filter((name) => name.endsWith('.sql') && statSync(join(dir, name)).isFile());
  const upMarker = /^--\s*Up Migration\b.*$/im;
  const isNodePgMigrate = sqlFiles.some((name) => upMarker.test(read(name)));
  const steps = sqlFiles.map((file) => {
    const text = read(file);
    if (!isNodePgMigrate || !upMarker.test(text)) return { file, batches: [text] };
    // The up part: after "-- Up Migration", up to "-- Down Migration".
    const up = text.slice(text.search(upMarker)).split(/^--\s*Down Migration\b.*$/im)[0]!;
    return { file, batches: [up] };
  });
  return nonEmpty({ dir, layout: isNodePgMigrate ? 'node-pg-migrate' : 'plain', steps });
}

function nonEmpty(plan: MigrationPlan): MigrationPlan {
  if (plan.steps.length === 0) throw new CannotRunError(`--migrations ${plan.dir}: no migration found (${plan.layout === 'plain' ? 'no .sql file' : `an empty ${plan.layout} folder`})`);
  return plan;
}

/** 1-based line of a character position (PostgreSQL's `position`, 1-based) in `text`. */
function lineOf(text: string, position: number): number {
  return text.slice(0, Math.max(0, position - 1)).split('\n').length;
}

/**
 * Applies the plan to the database at `url`, each batch as one simple-protocol query (a file's
 * statements run as PostgreSQL runs a psql -f of it in one go). A refusal is one line:
 * `migration <file> failed at line N: <PostgreSQL's message>`.
 */
export async function applyMigrations(url: string, plan: MigrationPlan): Promise<void> {
  await withClient(url, async (client) => {
    for (const step of plan.steps) {
      for (const batch of step.batches) {
        try {
          await client.query(batch);
        } catch (error) {
          const e = error as { message?: string; position?: string };
          const at = e.position ? ` at line ${lineOf(batch, Number(e.position))}` : '';
          throw new CannotRunError(`migration ${step.file} failed${at}: ${(e.message ?? String(error)).split('\n')[0]}`, { file: join(plan.dir, step.file) }, { cause: error });
        }
      }
    }
  });
}

