/** The small part of a PostgreSQL connection the data layer uses (not pg's types). */
export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}
