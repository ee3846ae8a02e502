/**
 * HTTP for receivers: Prometheus' http_config (basic auth, authorization, bearer token, each
 * with a *_file form read at send time), one POST helper that classifies the answer (2xx ok; 429
 * and 5xx worth retrying, honouring Retry-After; other 4xx final) and keeps URLs' credentials
 * out of errors.
 */
import { z } from 'zod';
import { resolveSecret } from './secret.js';
import type { Integration, Notification, SendResult } from '../receivers.js';

const opt = z.string().optional();

/** Prometheus' common HTTP client config; what Metronome does not implement is warned about by the config parser. */
export const httpConfigSchema = z.strictObject({
  basic_auth: z.strictObject({ username: opt, username_file: opt, password: opt, password_file: opt }).optional(),
  authorization: z.strictObject({ type: opt, credentials: opt, credentials_file: opt }).optional(),
  bearer_token: opt,
  bearer_token_file: opt,
  follow_redirects: z.boolean().optional(),
  enable_http2: z.boolean().optional(),
  http_headers: z.record(z.string(), z.union([z.string(), z.strictObject({ values: z.array(z.string()).optional(), secrets: z.array(z.string()).optional() })])).optional(),
  // Accepted and reported as unsupported by the config parser (notify-config.ts).
  tls_config: z.unknown().optional(),
  proxy_url: z.unknown().optional(),
  proxy_from_environment: z.unknown().optional(),
  no_proxy: z.unknown().optional(),
  proxy_connect_header: z.unknown().optional(),
  oauth2: z.unknown().optional(),
});
type HttpConfig = z.infer<typeof httpConfigSchema>;

/** The http_config fields that are accepted but have no effect. */
export const HTTP_CONFIG_UNSUPPORTED = ['tls_config', 'proxy_url', 'proxy_from_environment', 'no_proxy', 'proxy_connect_header', 'oauth2'];

/** Request headers for an http_config (credentials read now, files included). */
async function httpHeaders(hc: HttpConfig | undefined): Promise<Record<string, string>> {
  const h: Record<string, string> = {};
  if (!hc) return h;
  for (const [k, v] of Object.entries(hc.http_headers ?? {})) {
    const val = typeof v === 'string' ? v : [...(v.values ?? []), ...(v.secrets ?? [])][0];
    if (val !== undefined) h[k.toLowerCase()] = val;
  }
  if (hc.basic_auth) {
    const user = (await resolveSecret(hc.basic_auth.username, hc.basic_auth.username_file)) ?? '';
    const pass = (await resolveSecret(hc.basic_auth.password, hc.basic_auth.password_file)) ?? '';
    h.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  const cred = hc.authorization ? await resolveSecret(hc.authorization.credentials, hc.authorization.credentials_file) : undefined;
  if (cred !== undefined) h.authorization = `${hc.authorization?.type ?? 'Bearer'} ${cred}`;
  const bearer = await resolveSecret(hc.bearer_token, hc.bearer_token_file);
  if (bearer !== undefined) h.authorization = `Bearer ${bearer}`;
  return h;
}

/** A URL without credentials, path tokens or query, for logs and errors. */
export function redactURL(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '<url>';
  }
}

/** Longest Retry-After honoured: beyond it the next flush tries again anyway. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Retry-After in ms (delta-seconds or an HTTP date), or undefined. */
function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Math.min(Number(s) * 1000, MAX_RETRY_AFTER_MS);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.min(Math.max(0, t - now), MAX_RETRY_AFTER_MS);
}

export interface PostOptions {
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Names the integration in errors, e.g. "slack". */
  what: string;
  /** Check a 2xx answer's body (Slack and Telegram answer 200 with {"ok": false}). */
  checkBody?: (text: string) => string | null;
  /** Send as application/x-www-form-urlencoded or a raw string instead of JSON. */
  raw?: { contentType: string; text: string };
}

/** The longest answer body read (to explain a failure or check {"ok": ...}). */
const MAX_ANSWER = 64 * 1024;

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n < MAX_ANSWER) chunks.push(value);
      n += value.length;
      if (n >= MAX_ANSWER) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    // A broken answer body does not change the status.
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString('utf8');
}

/** POST and classify the answer. Never throws. */
export async function post(o: PostOptions): Promise<SendResult> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': o.raw?.contentType ?? 'application/json', 'user-agent': 'Metronome-Alerting/1', ...o.headers },
      body: o.raw ? o.raw.text : JSON.stringify(o.body),
      signal: AbortSignal.any([o.signal, timeout]),
      redirect: 'follow',
    });
    const text = await readCapped(res);
    if (res.status >= 200 && res.status < 300) {
      const problem = o.checkBody?.(text) ?? null;
      return problem ? { ok: false, retry: false, error: `${o.what} ${redactURL(o.url)}: ${problem}` } : { ok: true, retry: false };
    }
    const retry = res.status >= 500 || res.status === 429;
    const detail = text.trim().slice(0, 200);
    return {
      ok: false,
      retry,
      retryAfterMs: retry ? parseRetryAfter(res.headers.get('retry-after')) : undefined,
      error: `${o.what} ${redactURL(o.url)} answered ${res.status}${detail ? `: ${detail}` : ''}`,
    };
  } catch (e) {
    const why = timeout.aborted ? `no answer within ${o.timeoutMs} ms (timeout)` : connectionProblem(e as Error);
    return { ok: false, retry: !o.signal.aborted, error: `${o.what} ${redactURL(o.url)}: ${why}` };
  }
}

/** undici's "fetch failed" in words, from the system error under it. */
function connectionProblem(e: Error): string {
  const cause = e.cause as { code?: string; message?: string } | undefined;
  const words: Record<string, string> = {
    ECONNREFUSED: 'could not connect: the connection was refused (is the receiver running, and is the port right?)',
    ENOTFOUND: 'could not connect: the host name does not resolve',
    EAI_AGAIN: 'could not connect: the host name could not be resolved now (DNS)',
    ECONNRESET: 'the connection was closed before an answer',
    ETIMEDOUT: 'could not connect: timed out',
    EHOSTUNREACH: 'could not connect: the host is unreachable',
    CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
    DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is self-signed",
  };
  if (cause?.code && words[cause.code]) return words[cause.code];
  return cause?.message ? `${e.message}: ${cause.message}` : e.message;
}

/** An answer like {"ok": false, "error": "..."} is a failure. */
export function okField(text: string): string | null {
  try {
    const j = JSON.parse(text) as { ok?: unknown; error?: unknown; description?: unknown };
    if (j && typeof j === 'object' && j.ok === false) return `refused: ${String(j.error ?? j.description ?? 'ok=false')}`;
  } catch {
    // Not JSON: an incoming webhook answers "ok".
  }
  return null;
}

/** One request of a receiver: where, what, and the headers it adds to http_config's (they win). */
export type HttpRequest = Pick<PostOptions, 'url' | 'checkBody' | 'raw'> & { body?: unknown; headers?: Record<string, string> };

/** Fields every HTTP integration's config has. */
export interface HttpReceiverConfig {
  send_resolved?: boolean;
  http_config?: HttpConfig;
  /** Milliseconds; 0 or unset is 10 s. */
  timeout?: number;
}

/**
 * The sending path every HTTP receiver shares: http_config's credentials and the receiver's
 * secrets read at each send (a failure to read them is final and names the integration), then one
 * POST classified by post(): 2xx delivered, 429 and 5xx retried by the send queue (after
 * Retry-After when given), other 4xx final.
 */
export function httpIntegration<C extends HttpReceiverConfig>(kind: { name: string; sendResolved: boolean }, c: C, request: (n: Notification) => Promise<HttpRequest>): Integration {
  const timeoutMs = c.timeout || 10_000;
  return {
    kind: kind.name,
    sendResolved: c.send_resolved ?? kind.sendResolved,
    async send(n, signal) {
      let req: HttpRequest;
      let headers: Record<string, string>;
      try {
        headers = await httpHeaders(c.http_config);
        req = await request(n);
      } catch (e) {
        return { ok: false, retry: false, error: `${kind.name}: ${(e as Error).message}` };
      }
      return post({ ...req, headers: { ...headers, ...req.headers }, timeoutMs, signal, what: kind.name });
    },
  };
}

/** A secret that must be there (resolveSecret's value, or an error naming the field). */
export async function requiredSecret(value: string | undefined, file: string | undefined, field: string): Promise<string> {
  const v = await resolveSecret(value, file);
  if (v === undefined || v === '') throw new Error(`${field} is empty`);
  return v;
}
