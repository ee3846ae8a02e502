import { parsePromDuration } from '../time.js';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Issue } from '../errors.js';
import { issuesOf, SERVICE_NAME } from '../services/model.js';

/**
 * The probe document (POST /api/v1/probes) and the target policy: which schemes, hosts, ports
 * and networks a probe may reach. A probe is a request the server makes on a user's behalf, so
 * targets are checked twice: their shape when the probe is saved, and the address actually
 * connected to on every run (a name can resolve somewhere else tomorrow).
 */

const PROBE_KINDS = ['http', 'tcp', 'dns', 'tls'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

const isDuration = (v: string) => parsePromDuration(v) !== null;

export const probeSchema = z
  .object({
    /** Identifies the probe: the `probe` label of its series. Default `<service>-<kind>`. */
    name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'must start with a letter or digit and hold only letters, digits, _ . - (at most 128)').optional(),
    service: z.string().regex(SERVICE_NAME, 'must be a service name: letters, digits, _ . - (at most 128)'),
    kind: z.enum(PROBE_KINDS),
    /** http/https URL (http), host:port (tcp, tls), or a host name to resolve (dns). */
    target: z.string().min(1).max(2048),
    interval: z.string().refine(isDuration, 'must be a duration like 15s, 1m').default('30s'),
    /** Default: the interval, at most 10 s. */
    timeout: z.string().refine(isDuration, 'must be a duration like 5s').optional(),
    expect: z
      .object({
        /** http: status codes that count as success (default 200-399). */
        status: z.array(z.number().int().min(100).max(599)).min(1).max(50).optional(),
        /** http: the body must contain this text (the first 64 KB are read). */
        bodyContains: z.string().min(1).max(1024).optional(),
        /** dns: the name must resolve to (at least) these addresses. */
        addresses: z.array(z.string().refine((a) => isIP(a) !== 0, 'must be an IP address')).min(1).max(20).optional(),
        /** tls and https: fail when the certificate expires within this many days. */
        certValidDays: z.number().min(0).max(3650).optional(),
        /** tls and https: accept a certificate the system's CAs do not trust (self-signed); its expiry is still reported. */
        insecureSkipVerify: z.boolean().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ProbeSpec = z.output<typeof probeSchema> & { name: string };

/** A probe as served: the spec plus where it came from. */
export interface Probe extends ProbeSpec {
  /** api: created with POST; health-link: the `health` link of a registered service. */
  source: 'api' | 'health-link';
}

export interface ProbePolicy {
  allowed: BlockList | null;
  denied: BlockList | null;
  ports: [number, number][] | null;
  minIntervalMs: number;
}

function blockList(csv: string): BlockList | null {
  const items = csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) return null;
  const bl = new BlockList();
  for (const c of items) {
    const [addr, bits] = c.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(addr, type);
    else bl.addSubnet(addr, Number(bits), type);
  }
  return bl;
}

export function probePolicy(config: Pick<Config, 'PROBE_ALLOWED_NETWORKS' | 'PROBE_DENIED_NETWORKS' | 'PROBE_ALLOWED_PORTS' | 'PROBE_MIN_INTERVAL'>): ProbePolicy {
  const ports = config.PROBE_ALLOWED_PORTS.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((p) => {
      const [a, b] = p.split('-').map(Number);
      return [a, b ?? a] as [number, number];
    });
  return {
    allowed: blockList(config.PROBE_ALLOWED_NETWORKS),
    denied: blockList(config.PROBE_DENIED_NETWORKS),
    ports: ports.length ? ports : null,
    minIntervalMs: config.PROBE_MIN_INTERVAL,
  };
}

/** Why the policy refuses to connect to `address` (an IP), or null when it may. */
export function refusedAddress(policy: ProbePolicy, address: string): string | null {
  const v = isIP(address);
  if (!v) return `${address} is not an IP address`;
  const type = v === 6 ? 'ipv6' : 'ipv4';
  if (policy.allowed && !policy.allowed.check(address, type)) return `${address} is outside PROBE_ALLOWED_NETWORKS`;
  if (policy.denied?.check(address, type)) return `${address} is in PROBE_DENIED_NETWORKS`;
  return null;
}

export interface ProbeTarget {
  host: string;
  port: number;
  /** http only. */
  url?: URL;
}

/** host:port, with [v6]:port; null when it is not one. */
function hostPort(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([a-zA-Z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

const HOST_NAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)*\.?$/;

/** What checkTarget found: the parsed target, and the interval and timeout a run uses. */
export interface CheckedProbe {
  target: ProbeTarget;
  intervalMs: number;
  /** The probe's timeout, or the interval capped at 10 s. */
  timeoutMs: number;
}

/**
 * Check a probe's target against its kind and the policy, and its interval and timeout against
 * their bounds; the parsed target and durations, or the problems as issues.
 */
export function checkTarget(spec: Pick<ProbeSpec, 'kind' | 'target' | 'interval' | 'timeout'>, policy: ProbePolicy): CheckedProbe | { issues: Issue[] } {
  const issues: Issue[] = [];
  const bad = (path: string, message: string) => issues.push({ path, message });
  let target: ProbeTarget | null = null;
  switch (spec.kind) {
    case 'http': {
      let url: URL | null = null;
      try {
        url = new URL(spec.target);
      } catch {
        bad('target', 'must be an http:// or https:// URL');
      }
      if (url) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:') bad('target', `scheme ${url.protocol.replace(':', '')} is not allowed; use http or https`);
        else if (url.username || url.password) bad('target', 'must not carry credentials (they would be stored and shown as a label)');
        else target = { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80, url };
      }
      break;
    }
    case 'tcp':
    case 'tls': {
      const hp = hostPort(spec.target);
      if (!hp) bad('target', 'must be host:port (e.g. db.internal:5432 or [::1]:443)');
      else target = hp;
      break;
    }
    case 'dns':
      if (!HOST_NAME.test(spec.target) || isIP(spec.target)) bad('target', 'must be a host name to resolve (e.g. api.example.com)');
      else target = { host: spec.target, port: 0 };
      break;
  }
  if (target && spec.kind !== 'dns') {
    if (!(target.port >= 1 && target.port <= 65535)) bad('target', `port ${target.port} is outside 1-65535`);
    else if (policy.ports && !policy.ports.some(([a, b]) => target!.port >= a && target!.port <= b)) bad('target', `port ${target.port} is not in PROBE_ALLOWED_PORTS`);
    if (isIP(target.host)) {
      const why = refusedAddress(policy, target.host);
      if (why) bad('target', why);
    } else if (!HOST_NAME.test(target.host)) bad('target', `${target.host} is not a host name`);
  }
  // NaN (not a duration: a stored probe the schema never saw) fails these bounds too.
  const intervalMs = parsePromDuration(spec.interval) ?? NaN;
  if (!(intervalMs >= policy.minIntervalMs)) bad('interval', `must be at least ${policy.minIntervalMs / 1000}s (PROBE_MIN_INTERVAL)`);
  if (intervalMs > 3_600_000) bad('interval', 'must be at most 1h');
  const timeoutMs = spec.timeout === undefined ? Math.min(intervalMs, 10_000) : (parsePromDuration(spec.timeout) ?? NaN);
  if (spec.timeout !== undefined && !(timeoutMs >= 100 && timeoutMs <= 60_000)) bad('timeout', 'must be between 100ms and 60s');
  return issues.length || !target ? { issues } : { target, intervalMs, timeoutMs };
}

/** The spec with its defaults and name filled, or issues. */
export function parseProbe(body: unknown, policy: ProbePolicy): { spec: ProbeSpec; target: ProbeTarget } | { issues: Issue[] } {
  const parsed = probeSchema.safeParse(body ?? {});
  if (!parsed.success) return { issues: issuesOf(parsed.error) };
  const spec: ProbeSpec = { ...parsed.data, name: parsed.data.name ?? `${parsed.data.service}-${parsed.data.kind}` };
  const checked = checkTarget(spec, policy);
  if ('issues' in checked) return checked;
  return { spec, target: checked.target };
}
