/** Connection URLs: parsed with one-line errors, and shown without their password. */
import { CannotRunError } from '../errors.ts';

/** Parses a postgres:// URL or fails with a one-line reason (the password is never echoed). */
export function parsePostgresUrl(url: string, what = 'database URL'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CannotRunError(`${what} is not a URL: expected postgres://user:password@host:port/database`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CannotRunError(`${what} must start with postgres:// or postgresql://, got ${parsed.protocol}//`);
  }
  return parsed;
}

/** The URL with its password masked, for messages and reports. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
