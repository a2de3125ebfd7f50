/**
 * PostgreSQL literals built from JavaScript values: what the world generator writes and what
 * probes write back after reading rows as JSON.
 */

/** `"…"` with backslashes and quotes escaped: an element of an array literal (or a field of a row literal). */
const quoted = (text: string) => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** A JSON array (nested for multi-dimensional arrays) as a PostgreSQL array literal. */
export function arrayLiteral(items: readonly unknown[], element: (v: unknown) => string, delimiter = ','): string {
  return `{${items.map((v) => (v === null || v === undefined ? 'NULL' : Array.isArray(v) ? arrayLiteral(v, element, delimiter) : quoted(element(v)))).join(delimiter)}}`;
}

/** Field values (JSON as read back) as a row literal `("a",,"b")`; NULL is an empty field. */
export function rowLiteral(fields: readonly unknown[]): string {
  return `(${fields.map((v) => (v === null || v === undefined ? '' : quoted(typeof v === 'object' ? (Array.isArray(v) ? arrayLiteral(v, String) : JSON.stringify(v)) : String(v)))).join(',')})`;
}

/** A JSON object as an hstore literal `"k"=>"v"`; a null value is NULL. */
export function hstoreLiteral(pairs: Readonly<Record<string, unknown>>): string {
  return Object.entries(pairs)
    .map(([k, v]) => `${quoted(k)}=>${v === null || v === undefined ? 'NULL' : quoted(String(v))}`)
    .join(', ');
}
