import { lookup as dnsLookup, promises as dnsPromises, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { refusedAddress, type ProbeKind, type ProbePolicy, type ProbeSpec, type ProbeTarget } from './model.js';

/**
 * One function per probe kind (the registry PROBE_RUNNERS): connect, check what the probe
 * expects, measure. Every connection resolves names through `guardedLookup`, so the address
 * actually connected to is checked against PROBE_ALLOWED_NETWORKS / PROBE_DENIED_NETWORKS on
 * every run, and an IP literal is checked before connecting.
 */

export interface ProbeResult {
  success: boolean;
  /** Seconds from start to the verdict. */
  duration: number;
  /** http: the status code of the answer (0: no answer). */
  httpStatus?: number;
  /** tls and https: unix seconds when the earliest certificate of the chain expires. */
  certExpiry?: number;
  /** Why it failed (logged and shown by GET /api/v1/probes/<name>). */
  error?: string;
}

export interface RunInput {
  spec: ProbeSpec;
  target: ProbeTarget;
  policy: ProbePolicy;
  signal: AbortSignal;
}

type Runner = (input: RunInput) => Promise<Omit<ProbeResult, 'duration'>>;

class Refused extends Error {}

/** A dns.lookup for sockets that drops addresses the policy refuses (all of them: an error). */
function guardedLookup(policy: ProbePolicy) {
  return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const ok = addresses.filter((a) => !refusedAddress(policy, a.address));
      if (ok.length === 0) {
        const why = addresses.length ? refusedAddress(policy, addresses[0].address)! : `${hostname} has no address`;
        return callback(Object.assign(new Refused(`${hostname}: ${why}`), { code: 'EPROBEREFUSED' }), '');
      }
      if (options.all) callback(null, ok);
      else callback(null, ok[0].address, ok[0].family);
    });
  };
}

function checkLiteral(policy: ProbePolicy, host: string): void {
  if (isIP(host)) {
    const why = refusedAddress(policy, host);
    if (why) throw new Refused(why);
  }
}

/** The earliest notAfter over the peer's chain, in unix seconds. */
function earliestExpiry(cert: PeerCertificate & { issuerCertificate?: PeerCertificate }): number | undefined {
  let min: number | undefined;
  const seen = new Set<string>();
  for (let c: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert; c && c.valid_to && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    const t = Date.parse(c.valid_to) / 1000;
    if (Number.isFinite(t) && (min === undefined || t < min)) min = t;
  }
  return min;
}

/** Certificate checks shared by tls and https: trusted (unless insecureSkipVerify) and valid long enough. */
function certVerdict(socket: TLSSocket, spec: ProbeSpec): { certExpiry?: number; error?: string } {
  const cert = socket.getPeerCertificate(true);
  const certExpiry = cert && Object.keys(cert).length ? earliestExpiry(cert) : undefined;
  if (!socket.authorized && !spec.expect.insecureSkipVerify) return { certExpiry, error: `certificate not trusted: ${socket.authorizationError}` };
  const days = spec.expect.certValidDays;
  if (days !== undefined && certExpiry !== undefined && certExpiry - Date.now() / 1000 < days * 86_400) {
    return { certExpiry, error: `certificate expires within ${days} days (${new Date(certExpiry * 1000).toISOString()})` };
  }
  return { certExpiry };
}

function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => {};
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

const httpRunner: Runner = ({ spec, target, policy, signal }) =>
  new Promise((resolve) => {
    checkLiteral(policy, target.host);
    const url = target.url!;
    const mod = url.protocol === 'https:' ? https : http;
    let status = 0;
    const req = mod.request(url, {
      method: 'GET',
      agent: false,
      lookup: guardedLookup(policy) as never,
      // Verified by hand (certVerdict) so an untrusted certificate still reports its expiry.
      rejectUnauthorized: false,
      headers: { 'user-agent': 'Metronome-probe/1', accept: '*/*', connection: 'close' },
    });
    const off = onAbort(signal, () => req.destroy(new Error(`timed out`)));
    const done = (r: Omit<ProbeResult, 'duration'>) => {
      off();
      req.destroy();
      resolve(r);
    };
    req.on('error', (e) => done({ success: false, httpStatus: status, error: e.message }));
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      const tls = url.protocol === 'https:' ? certVerdict(res.socket as TLSSocket, spec) : {};
      const want = spec.expect.status;
      const statusOk = want ? want.includes(status) : status >= 200 && status < 400;
      const needle = spec.expect.bodyContains;
      let body = '';
      const finish = () => {
        const bodyOk = !needle || body.includes(needle);
        const error = tls.error ?? (!statusOk ? `status ${status}` : !bodyOk ? `body does not contain ${JSON.stringify(needle)}` : undefined);
        done({ success: !error, httpStatus: status, ...(tls.certExpiry !== undefined ? { certExpiry: tls.certExpiry } : {}), ...(error ? { error } : {}) });
      };
      if (!needle) return finish();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length >= 65_536 || body.includes(needle)) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    req.end();
  });

function socketRunner(secure: boolean): Runner {
  return ({ spec, target, policy, signal }) =>
    new Promise((resolve) => {
      checkLiteral(policy, target.host);
      const lookup = guardedLookup(policy) as never;
      const socket: Socket = secure
        ? tlsConnect({ host: target.host, port: target.port, lookup, rejectUnauthorized: false, ...(isIP(target.host) ? {} : { servername: target.host }) })
        : netConnect({ host: target.host, port: target.port, lookup });
      const off = onAbort(signal, () => socket.destroy(new Error('timed out')));
      const done = (r: Omit<ProbeResult, 'duration'>) => {
        off();
        socket.destroy();
        resolve(r);
      };
      socket.on('error', (e) => done({ success: false, error: e.message }));
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        if (!secure) return done({ success: true });
        const v = certVerdict(socket as TLSSocket, spec);
        done({ success: !v.error, ...v });
      });
    });
}

const dnsRunner: Runner = async ({ spec, signal }) => {
  const lookup = dnsPromises.lookup(spec.target, { all: true });
  const timeout = new Promise<never>((_, reject) => onAbort(signal, () => reject(new Error('timed out'))));
  timeout.catch(() => {}); // lost the race: its later rejection is nobody's
  const addrs = (await Promise.race([lookup, timeout])).map((a) => a.address);
  const missing = (spec.expect.addresses ?? []).filter((a) => !addrs.includes(a));
  if (addrs.length === 0) return { success: false, error: 'no address' };
  if (missing.length) return { success: false, error: `resolved to ${addrs.join(', ')}, not ${missing.join(', ')}` };
  return { success: true };
};

const PROBE_RUNNERS: Record<ProbeKind, Runner> = {
  http: httpRunner,
  tcp: socketRunner(false),
  tls: socketRunner(true),
  dns: dnsRunner,
};

/** Run one probe; never throws (a failure is a result). */
export async function runProbe(input: Omit<RunInput, 'signal'>, timeoutMs: number): Promise<ProbeResult> {
  const start = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  let r: Omit<ProbeResult, 'duration'>;
  try {
    r = await PROBE_RUNNERS[input.spec.kind]({ ...input, signal });
  } catch (e) {
    r = { success: false, error: (e as Error).message };
  }
  return { ...r, duration: (performance.now() - start) / 1000 };
}
