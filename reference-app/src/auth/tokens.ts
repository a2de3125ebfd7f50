/**
 * Access tokens: HS256 JWTs signed and verified with jose. A token names the principal (`sub`),
 * its active tenant (`tid`, `ten` = slug) and its role there (`role`). It is issued only after a
 * server-side membership check (login, signup, switch-tenant), so the claims are trusted for the
 * token's short life.
 */
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

export const tokenIssuer = 'tenantproof-reference';
export const tokenAudience = 'tenantproof-reference-api';
/** Platform support agents' login tokens are for the support API only (another audience, another kind). */
export const supportTokenAudience = 'tenantproof-reference-support';
/** A support session inside one tenant lasts at most this long, whatever was asked. */
export const maxSupportSessionSeconds = 3600;

const claimsSchema = z.object({
  sub: z.uuid(),
  tid: z.uuid(),
  ten: z.string().min(1).max(40),
  role: z.string().min(1).max(32),
  /** Issue time in milliseconds (the app's clock), compared with token revocations. */
  iat_ms: z.number().int().nonnegative().optional(),
  iat: z.number().int().nonnegative().optional(),
  exp: z.number().int().nonnegative().optional(),
  /** `support-session`: a platform support agent inside this tenant (read-only, audited, bounded). */
  kind: z.enum(['tenant', 'support-session']).default('tenant'),
  /** Support sessions: the session id (written in the tenant's audit log when it was opened). */
  sid: z.uuid().optional(),
});

const supportClaimsSchema = z.object({ sub: z.uuid(), kind: z.literal('support'), email: z.string().min(3).max(254) });

/** A support agent's login token: names the agent, no tenant. */
export interface SupportClaims {
  readonly sub: string;
  readonly email: string;
}

/** What a token says about its principal. */
export interface TokenClaims {
  readonly sub: string;
  readonly tid: string;
  readonly ten: string;
  readonly role: string;
}

/** Verified claims plus when the token was issued (ms), for revocation checks. */
export interface VerifiedClaims extends TokenClaims {
  readonly issuedAtMs: number;
  readonly kind: 'tenant' | 'support-session';
  /** Support sessions only. */
  readonly sessionId?: string;
  /** Expiry (ms), when the token has one. */
  readonly expiresAtMs?: number;
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export interface TokenService {
  issue(claims: TokenClaims): Promise<string>;
  verify(token: string): Promise<VerifiedClaims>;
  /** A support agent's login token (support API only). */
  issueSupport(claims: SupportClaims): Promise<string>;
  verifySupport(token: string): Promise<SupportClaims>;
  /** A support session in one tenant: its own kind, role `support`, at most `maxSupportSessionSeconds`. */
  issueSupportSession(claims: { sub: string; tid: string; ten: string; sid: string; ttlSeconds: number }): Promise<string>;
}

export function tokenService(secret: Uint8Array, options: { ttlSeconds: number; unverified?: boolean }): TokenService {
  return {
    async issue({ sub, tid, ten, role }) {
      return new SignJWT({ tid, ten, role, iat_ms: Date.now() })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(sub)
        .setIssuer(tokenIssuer)
        .setAudience(tokenAudience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .sign(secret);
    },
    async verify(token) {
      let payload: unknown;
      try {
        if (options.unverified) {
          // `jwt-unverified` vulnerability: decoding is not verifying.
          payload = decodeJwt(token);
        } else {
          ({ payload } = await jwtVerify(token, secret, {
            algorithms: ['HS256'],
            issuer: tokenIssuer,
            audience: tokenAudience,
            requiredClaims: ['sub', 'exp', 'iat'],
          }));
        }
      } catch (cause) {
        throw new InvalidTokenError('invalid or expired token', { cause });
      }
      const parsed = claimsSchema.safeParse(payload);
      if (!parsed.success) throw new InvalidTokenError('token claims are malformed');
      const { sub, tid, ten, role, iat_ms, iat, exp, kind, sid } = parsed.data;
      if (kind === 'support-session' && (!sid || role !== 'support')) throw new InvalidTokenError('support session token is malformed');
      return {
        sub,
        tid,
        ten,
        role,
        issuedAtMs: iat_ms ?? (iat ?? 0) * 1000,
        kind,
        ...(sid ? { sessionId: sid } : {}),
        ...(exp !== undefined ? { expiresAtMs: exp * 1000 } : {}),
      };
    },
    async issueSupport({ sub, email }) {
      return new SignJWT({ kind: 'support', email })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(sub)
        .setIssuer(tokenIssuer)
        .setAudience(supportTokenAudience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .sign(secret);
    },
    async verifySupport(token) {
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], issuer: tokenIssuer, audience: supportTokenAudience, requiredClaims: ['sub', 'exp'] }));
      } catch (cause) {
        throw new InvalidTokenError('invalid or expired support token', { cause });
      }
      const parsed = supportClaimsSchema.safeParse(payload);
      if (!parsed.success) throw new InvalidTokenError('support token claims are malformed');
      return { sub: parsed.data.sub, email: parsed.data.email };
    },
    async issueSupportSession({ sub, tid, ten, sid, ttlSeconds }) {
      const seconds = Math.min(Math.max(1, Math.floor(ttlSeconds)), maxSupportSessionSeconds);
      return new SignJWT({ tid, ten, role: 'support', kind: 'support-session', sid, iat_ms: Date.now() })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(sub)
        .setIssuer(tokenIssuer)
        .setAudience(tokenAudience)
        .setIssuedAt()
        .setExpirationTime(`${seconds}s`)
        .sign(secret);
    },
  };
}
