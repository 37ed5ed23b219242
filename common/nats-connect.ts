// One place that turns CLI/config connection settings into a NATS connection, so that
// credentials (user+password, token, nkey seed, creds file) and TLS reach every
// connection the coordinator and workers open.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { ConnectionError } from './errors.js';

export interface NatsSettings {
  url: string;             // one or more, comma-separated
  user?: string;
  pass?: string;
  token?: string;
  credsFile?: string;
  nkeySeedFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  name?: string;
  /** Subject prefix of this connection's reply inboxes (default _INBOX). Workers use their
   * own, so that NATS permissions can keep them from reading replies meant for the
   * coordinator (docs/cluster.md, "Permissions"). */
  inboxPrefix?: string;
}

/** Reads NATS_* environment variables as defaults for settings the CLI did not set. */
export function natsSettingsFromEnv(partial: Partial<NatsSettings>, env = process.env): NatsSettings {
  return {
    url: partial.url ?? env.LIMOLAB_NATS_URL ?? env.NATS_URL ?? 'nats://127.0.0.1:4222',
    user: partial.user ?? env.NATS_USER,
    pass: partial.pass ?? env.NATS_PASSWORD,
    token: partial.token ?? env.NATS_TOKEN,
    credsFile: partial.credsFile ?? env.NATS_CREDS,
    nkeySeedFile: partial.nkeySeedFile ?? env.NATS_NKEY,
    tlsCa: partial.tlsCa ?? env.NATS_CA,
    tlsCert: partial.tlsCert ?? env.NATS_CERT,
    tlsKey: partial.tlsKey ?? env.NATS_KEY,
    name: partial.name,
    inboxPrefix: partial.inboxPrefix ?? env.NATS_INBOX_PREFIX,
  };
}

/** log: where disconnects and reconnects are reported (a lost server in a cluster stalls work
 * until the client has moved to another one; the log says when, and to which). */
export async function connectNats(s: NatsSettings, log?: (line: string) => void): Promise<NatsConnection> {
  const servers = s.url.split(',').map((u) => u.trim()).filter(Boolean);
  // noAsyncTraces: nats.js would otherwise build two Error objects (for stack traces) per
  // request, i.e. per JetStream publish; on the dispatch path that was ~7% of the CPU.
  const opts: Parameters<typeof connect>[0] = { servers, name: s.name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true };
  if (s.inboxPrefix) opts.inboxPrefix = s.inboxPrefix;
  if (s.user) { opts.user = s.user; opts.pass = s.pass; }
  if (s.token) opts.token = s.token;
  if (s.credsFile) opts.authenticator = credsAuthenticator(readFileSync(s.credsFile));
  else if (s.nkeySeedFile) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(s.nkeySeedFile, 'utf8').trim()));
  if (s.tlsCa || s.tlsCert || s.tlsKey) opts.tls = { caFile: s.tlsCa, certFile: s.tlsCert, keyFile: s.tlsKey };
  try {
    const nc = await connect(opts);
    if (log) void reportStatus(nc, s.name ?? 'connection', log);
    return nc;
  } catch (err) {
    throw new ConnectionError(
      `cannot connect to NATS at ${servers.join(', ')}: ${(err as Error).message}; check the URL and credentials, or start one with \`nats-server -js\``,
      { cause: err },
    );
  }
}

async function reportStatus(nc: NatsConnection, name: string, log: (line: string) => void) {
  try {
    for await (const st of nc.status()) {
      const server = (st as { server?: string }).server ?? '';
      if (st.type === 'disconnect') log(`NATS: ${name} disconnected from ${server}; reconnecting (to another server of the cluster if there is one)`);
      else if (st.type === 'reconnect') log(`NATS: ${name} reconnected to ${server}`);
    }
  } catch { /* closed */ }
}
