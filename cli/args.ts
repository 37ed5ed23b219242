// Shared option parsing: NATS connection and coordinator-address options, with
// environment-variable defaults, on node:util parseArgs (unknown options are errors).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SpecError } from '../common/errors.js';
import { natsSettingsFromEnv, type NatsSettings } from '../common/nats-connect.js';

export const NATS_OPTIONS = {
  nats: { type: 'string' }, 'nats-user': { type: 'string' }, 'nats-pass': { type: 'string' }, 'nats-token': { type: 'string' },
  'nats-creds': { type: 'string' }, 'nats-nkey': { type: 'string' }, 'nats-ca': { type: 'string' }, 'nats-cert': { type: 'string' }, 'nats-key': { type: 'string' },
  'nats-inbox-prefix': { type: 'string' },
} as const;

export const NATS_HELP = `NATS connection (also from NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY, NATS_CA, NATS_CERT, NATS_KEY):
  --nats URL[,URL...]      servers (default nats://127.0.0.1:4222)
  --nats-user U --nats-pass P | --nats-token T | --nats-creds FILE | --nats-nkey SEEDFILE
  --nats-ca FILE --nats-cert FILE --nats-key FILE    TLS
  --nats-inbox-prefix P    reply-inbox prefix (NATS_INBOX_PREFIX; workers default to _INBOX_worker)`;

export const CLIENT_OPTIONS = {
  coordinator: { type: 'string' }, token: { type: 'string' }, 'tls-ca': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export const CLIENT_HELP = `  --coordinator HOST:PORT  coordinator address (LIMOLAB_COORDINATOR; default 127.0.0.1:50551)
  --token T                bearer token (LIMOLAB_TOKEN)
  --tls-ca FILE            CA certificate for a TLS coordinator
  --json                   machine-readable output`;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new SpecError(`${(err as Error).message}\n\n${usage}`);
  }
}

export function natsFrom(v: Record<string, unknown>): NatsSettings {
  return natsSettingsFromEnv({
    url: v.nats as string | undefined, user: v['nats-user'] as string | undefined, pass: v['nats-pass'] as string | undefined,
    token: v['nats-token'] as string | undefined, credsFile: v['nats-creds'] as string | undefined, nkeySeedFile: v['nats-nkey'] as string | undefined,
    tlsCa: v['nats-ca'] as string | undefined, tlsCert: v['nats-cert'] as string | undefined, tlsKey: v['nats-key'] as string | undefined,
    inboxPrefix: v['nats-inbox-prefix'] as string | undefined,
  });
}

export function clientFrom(v: Record<string, unknown>) {
  const given = v.coordinator as string | undefined;
  return {
    address: coordinatorAddress(given ?? (process.env.LIMOLAB_COORDINATOR || '127.0.0.1:50551'), given !== undefined ? '--coordinator' : 'LIMOLAB_COORDINATOR'),
    token: (v.token as string | undefined) ?? process.env.LIMOLAB_TOKEN,
    tlsCa: v['tls-ca'] as string | undefined,
  };
}

/** HOST:PORT (or [v6]:PORT), checked: without a port gRPC would silently try 443. */
export function coordinatorAddress(addr: string, from = '--coordinator'): string {
  const a = addr.trim();
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d+)$/.exec(a);
  if (!m) {
    const hint = /^[^\s:/]+$/.test(a) ? `it has no port; e.g. ${a}:50551` : 'write it as HOST:PORT, e.g. 127.0.0.1:50551';
    throw new SpecError(`${from} "${addr}" is not a coordinator address: ${hint}`);
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new SpecError(`${from} "${addr}": port ${m[2]} is out of range (1-65535)`);
  return a;
}

export function int(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new SpecError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}
