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

const claimsSchema = z.object({
  sub: z.uuid(),
  tid: z.uuid(),
  ten: z.string().min(1).max(40),
  role: z.string().min(1).max(32),
  /** Issue time in milliseconds (the app's clock), compared with token revocations. */
  iat_ms: z.number().int().nonnegative().optional(),
  iat: z.number().int().nonnegative().optional(),
});

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
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export interface TokenService {
  issue(claims: TokenClaims): Promise<string>;
  verify(token: string): Promise<VerifiedClaims>;
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
      const { sub, tid, ten, role, iat_ms, iat } = parsed.data;
      return { sub, tid, ten, role, issuedAtMs: iat_ms ?? (iat ?? 0) * 1000 };
    },
  };
}
