/**
 * Errors that become HTTP responses. Every error response is `{ error: string, ...details }` with
 * a 4xx/5xx status and never a stack trace or a database message.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InvalidTokenError } from '../auth/tokens.ts';
import { TenantMovedError } from '../tenancy/model.ts';
import { InvalidTenantIdError } from '../tenancy/transaction.ts';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export const notFound = () => new HttpError(404, 'not found');

/** Parses `input` with `schema` or throws a 400 naming the first bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new HttpError(400, `invalid ${field}: ${issue?.message ?? 'invalid input'}`, { field });
}

const uniqueViolations: Readonly<Record<string, string>> = {
  tenants_slug_key: 'tenant slug is already taken',
  users_email_key: 'email is already registered',
  memberships_pkey: 'user is already a member of this tenant',
  roles_tenant_id_name_key: 'role already exists',
};

interface PgError {
  code: string;
  constraint?: string;
}

function isPgError(error: unknown): error is PgError {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((error as { code: string }).code) && 'severity' in error;
}

/** Maps any thrown value to a status and a safe JSON body. */
export function toResponse(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof HttpError) return { status: error.statusCode, body: { error: error.message, ...error.details } };
  if (error instanceof InvalidTokenError) return { status: 401, body: { error: error.message } };
  if (error instanceof InvalidTenantIdError) return { status: 400, body: { error: 'invalid value' } };
  if (error instanceof TenantMovedError) return { status: 503, body: { error: 'this tenant was just moved: retry the request', retry: true } };
  if (isPgError(error)) {
    switch (error.code) {
      case '23505':
        return { status: 409, body: { error: uniqueViolations[error.constraint ?? ''] ?? 'conflict with an existing record' } };
      case '23503':
        return { status: 404, body: { error: 'a referenced record was not found' } };
      case '23514':
      case '23502':
      case '22P02':
      case '22001':
      case '22003':
      case '22021':
      case '22023':
        return { status: 400, body: { error: 'invalid value' } };
      case '42501':
        return { status: 403, body: { error: 'forbidden' } };
      case '57014':
        return { status: 503, body: { error: 'the request took too long and was cancelled' } };
      case '40001':
      case '40P01':
        return { status: 409, body: { error: 'concurrent update, retry' } };
    }
    return { status: 500, body: { error: 'internal error' } };
  }
  const fastifyError = error as Partial<FastifyError> | undefined;
  const status = typeof fastifyError?.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500) {
    const messages: Record<string, string> = {
      FST_ERR_CTP_INVALID_JSON_BODY: 'malformed JSON body',
      FST_ERR_CTP_EMPTY_JSON_BODY: 'empty JSON body',
      FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
      FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type: send application/json',
      FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid content length',
    };
    const message = (fastifyError?.code && messages[fastifyError.code]) ?? (status === 400 ? 'bad request' : 'request refused');
    return { status, body: { error: message } };
  }
  return { status: 500, body: { error: 'internal error' } };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toResponse(error);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ status, error: body.error }, 'request refused');
  void reply.status(status).type('application/json').send(body);
}
