/** Input shapes shared by routes. */
import { z } from 'zod';
import { plans } from '../auth/permissions.ts';

/** Printable text: no control characters (PostgreSQL rejects NUL; the rest have no business in names). */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

export const slug = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, 'must be 1-40 lowercase letters, digits or inner hyphens');

export const email = z.email().max(254);
export const password = z.string().min(8).max(200);
export const planName = z.enum(Object.keys(plans) as [keyof typeof plans, ...(keyof typeof plans)[]]);
export const uuid = z.uuid();
export const cents = z.number().int().min(0).max(1e13);

/** Route ids: anything that is not a uuid is simply not found (no different answer for junk). */
export function isUuid(value: string): boolean {
  return uuid.safeParse(value).success;
}
