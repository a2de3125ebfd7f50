/**
 * Probe sessions: every probe runs under a savepoint that is always rolled back, inside the one
 * transaction that is itself rolled back. A failing probe never poisons the rest, and nothing a
 * probe does (role, settings, rows) outlives it.
 */
import type { Queryable, QueryResult } from '../../target/connection.ts';

let counter = 0;

/**
 * Runs `fn` under a savepoint and always rolls back to it (then releases it). `enter` is SQL run
 * right after the savepoint in the same round trip (e.g. entering a tenant context).
 */
export async function inRolledBackSavepoint<T>(tx: Queryable, fn: () => Promise<T>, enter?: string): Promise<T> {
  const name = `tp_probe_${++counter}`;
  await tx.query(enter ? `savepoint ${name}; ${enter}` : `savepoint ${name}`);
  try {
    return await fn();
  } finally {
    await tx.query(`rollback to savepoint ${name}; release savepoint ${name}`);
  }
}

/**
 * Errors that say nothing about isolation — a lock wait or statement timed out, a deadlock or
 * serialization failure, the server shutting down, out of resources, an internal error. A probe
 * that meets one has not been refused: it throws, and the run stops with the reason, so such an
 * error can never pass for "the tenant boundary held".
 */
export function isInconclusive(code: string): boolean {
  return ['55P03', '57014', '40P01', '40001', '57P01', '57P02', '57P03', 'XX000', 'XX001', 'XX002'].includes(code) || /^(53|58)/.test(code);
}

/** The outcome of one statement: rows, or the error PostgreSQL raised. */
export type Outcome<R> =
  | { readonly ok: true; readonly rows: R[]; readonly rowCount: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Runs one statement, turning a PostgreSQL error into an outcome (the savepoint is then aborted). */
export async function attempt<R extends object = Record<string, unknown>>(
  tx: Queryable,
  text: string,
  values?: readonly unknown[],
): Promise<Outcome<R>> {
  try {
    const result: QueryResult<R> = await tx.query<R>(text, values);
    return { ok: true, rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (typeof e.code !== 'string') throw error; // not a PostgreSQL error: the connection is gone
    if (isInconclusive(e.code)) throw error;
    return { ok: false, code: e.code, message: (e.message ?? '').split('\n')[0] ?? '' };
  }
}

/** `$n` placeholders replaced by literals, for statements sent through the simple protocol. */
export function inlineParams(text: string, values: readonly unknown[] = []): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const v = values[Number(n) - 1];
    if (v === null || v === undefined) return 'NULL';
    return `'${String(v).replaceAll("'", "''")}'`;
  });
}

/**
 * A probe session over one transaction: each probe is one simple-query message. Probes in a row
 * that enter the same tenant context share it: the context is entered once, under a context
 * savepoint, and each probe runs under a probe savepoint inside it that the next probe rolls back.
 *
 * - first probe:            `savepoint C; <enter>; savepoint P; <statement>`
 * - same context as before: `rollback to savepoint P; <statement>`
 * - another context:        `rollback to savepoint C; <enter>; savepoint P; <statement>`
 *
 * Rolling back to a savepoint undoes everything done since (rows, SET LOCAL, set_config) and keeps
 * the savepoint, so every probe starts from the same state as if it had entered the context
 * itself. Any other query flushes first (`rollback to savepoint C; release savepoint C`), so
 * callers that use the session as a plain `Queryable` see the transaction as it was before.
 *
 * The message text is fixed when `probe` is called, before it waits: callers may send many probes
 * without awaiting them, and on a pipelined connection (`pg.Client({ pipeline: true })`) they go
 * out back to back. That stays exact when a probe fails: PostgreSQL skips the rest of the failed
 * message and marks the transaction aborted, and the next message starts with a rollback to a
 * savepoint that the failed message did not create, which is allowed in that state and undoes it.
 * (Entering a context is checked up front by `preflight`; were it to fail, every probe in that
 * context fails alike, as it did when each probe entered it on its own.)
 */
/**
 * How many probe messages may be in flight at once. Unbounded pipelining deadlocks on a large
 * world: the server blocks writing results the client has not read while the client is still
 * writing messages the server has not read (seen on the reference app's 15 tables: a verify that
 * never ended). A window keeps the round-trip savings and bounds both buffers.
 */
export const probeWindow = 32;

export class ProbeSession implements Queryable {
  /** The context entered under the context savepoint, or null when none is open. */
  private context: string | null = null;
  /** Messages sent and not answered yet, and the chain that hands out send turns in call order. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private turns: Promise<void> = Promise.resolve();
  private readonly contextSavepoint: string;
  private readonly probeSavepoint: string;
  constructor(private readonly tx: Queryable) {
    const n = ++counter;
    this.contextSavepoint = `tp_c${n}`;
    this.probeSavepoint = `tp_p${n}`;
  }

  async query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    await this.flush();
    return this.tx.query<R>(text, values);
  }

  async flush(): Promise<void> {
    if (this.context === null) {
      await this.turns;
      return;
    }
    this.context = null;
    await this.enqueue(`rollback to savepoint ${this.contextSavepoint}; release savepoint ${this.contextSavepoint}`);
  }

  /** Sends `text` after every message queued before it, with at most probeWindow in flight. */
  private async enqueue(text: string): Promise<unknown> {
    const turn = this.turns.then(async () => {
      while (this.inFlight.size >= probeWindow) await Promise.race(this.inFlight);
    });
    this.turns = turn;
    await turn;
    const sent = this.tx.query(text);
    const settled = sent.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return sent;
  }

  /**
   * Runs `statement` after `enter` (none when empty) under a savepoint that is rolled back
   * (lazily). The promise is marked handled: when the connection dies with many probes in flight,
   * the first one awaited reports it and the rest do not crash the process as unhandled rejections.
   */
  probe<R extends object = Record<string, unknown>>(enter: string, statement: string, values?: readonly unknown[]): Promise<Outcome<R>> {
    const sent = this.send<R>(enter, statement, values);
    sent.catch(() => undefined);
    return sent;
  }

  private async send<R extends object>(enter: string, statement: string, values?: readonly unknown[]): Promise<Outcome<R>> {
    const entered = `${enter ? `${enter}; ` : ''}savepoint ${this.probeSavepoint}; `;
    const open =
      this.context === null
        ? `savepoint ${this.contextSavepoint}; ${entered}`
        : this.context === enter
          ? `rollback to savepoint ${this.probeSavepoint}; `
          : `rollback to savepoint ${this.contextSavepoint}; ${entered}`;
    this.context = enter;
    const text = `${open}${inlineParams(statement, values)}`;
    // Messages go out in call order, at most probeWindow at a time.
    const sent = this.enqueue(text);
    try {
      const result = (await sent) as unknown as QueryResult<R> | QueryResult<R>[];
      const last = Array.isArray(result) ? result[result.length - 1]! : result;
      return { ok: true, rows: last.rows, rowCount: last.rowCount ?? last.rows.length };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      if (typeof e.code !== 'string' || isInconclusive(e.code)) throw error;
      return { ok: false, code: e.code, message: (e.message ?? '').split('\n')[0] ?? '' };
    }
  }
}

/**
 * SQLSTATEs that mean a probe's own statement or values were at fault (a malformed literal, a
 * type mismatch), so the probe could not act — as opposed to a refusal (privilege, policy,
 * constraint, trigger), which is what isolation looks like.
 */
export function probeCouldNotAct(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('22') || ['42601', '42804', '42846', '42883', '42P18'].includes(code));
}
