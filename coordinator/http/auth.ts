// The dashboard's access check: the coordinator's bearer token, taken from an HttpOnly,
// SameSite=Strict cookie (set by the login form or a `?token=` first load) or from an
// `Authorization: Bearer` header (scripts). With no token configured everything is open,
// as the gRPC API is; state-changing requests must also come from the page's own origin.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const COOKIE = 'limolab_token';

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    try { out[k] = decodeURIComponent(part.slice(i + 1).trim()); } catch { /* a malformed cookie is no token */ }
  }
  return out;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class Auth {
  constructor(private token: string | undefined, private secure: boolean) {}

  get required(): boolean { return !!this.token; }

  /** Whether the request carries the token (always true when none is configured). */
  ok(req: IncomingMessage): boolean {
    if (!this.token) return true;
    const h = req.headers.authorization;
    if (h?.startsWith('Bearer ') && sameToken(h.slice(7), this.token)) return true;
    return sameToken(parseCookies(req.headers.cookie)[COOKIE], this.token);
  }

  check(given: string): boolean { return !this.token || sameToken(given, this.token); }

  setCookie(res: ServerResponse, value: string | null): void {
    const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(this.secure ? ['Secure'] : [])];
    res.setHeader('Set-Cookie', value === null
      ? `${COOKIE}=; Max-Age=0; ${attrs.join('; ')}`
      : `${COOKIE}=${encodeURIComponent(value)}; ${attrs.join('; ')}`);
  }

  /** A POST from another site (a form or script on a page the user also has open) is refused:
   * the SameSite cookie already is not sent with it, and the Origin, when given, must be ours. */
  sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (!origin) return true;
    try { return new URL(origin).host === req.headers.host; } catch { return false; }
  }
}
