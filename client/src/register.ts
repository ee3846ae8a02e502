import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The service's entry in Metronome's registry (POST /api/v1/services), from its package.json:
 * description, repository (as an https link) and owner (`metronome.owner` in package.json, else
 * the author). Registration merges: fields an operator set (tier, SLO, runbook...) are kept, only
 * missing ones are filled, so a restart of the service never undoes an edit made in Metronome.
 */

export interface ServiceInfo {
  owner?: { team: string; contact?: string };
  description?: string;
  links?: Record<string, string>;
}

interface PackageJson {
  description?: unknown;
  author?: unknown;
  repository?: unknown;
  homepage?: unknown;
  metronome?: { owner?: unknown; contact?: unknown; runbook?: unknown; tier?: unknown };
}

/** The nearest package.json at or above `from`, or null. */
export function findPackageJson(from: string): PackageJson | null {
  let dir = from;
  for (;;) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    } catch {
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
}

/** "github:a/b", "git+https://github.com/a/b.git", "a/b" -> "https://github.com/a/b". */
export function repositoryUrl(repo: unknown): string | undefined {
  const raw = typeof repo === 'string' ? repo : typeof repo === 'object' && repo && typeof (repo as { url?: unknown }).url === 'string' ? (repo as { url: string }).url : undefined;
  if (!raw) return undefined;
  let m = /^(github|gitlab|bitbucket):([\w.-]+\/[\w.-]+)$/.exec(raw);
  if (m) return `https://${m[1]}.${m[1] === 'bitbucket' ? 'org' : 'com'}/${m[2]}`;
  if (/^[\w.-]+\/[\w.-]+$/.test(raw)) return `https://github.com/${raw}`;
  m = /^git@([\w.-]+):(.+?)(?:\.git)?$/.exec(raw);
  if (m) return `https://${m[1]}/${m[2]}`;
  const url = raw.replace(/^git\+/, '').replace(/^git:\/\//, 'https://').replace(/\.git$/, '');
  return /^https?:\/\//.test(url) ? url : undefined;
}

function authorName(a: unknown): { team: string; contact?: string } | undefined {
  if (typeof a === 'string') {
    // "Name <email> (url)"
    const m = /^\s*([^<(]+?)\s*(?:<([^>]+)>)?\s*(?:\(.*\))?\s*$/.exec(a);
    return m && m[1] ? { team: m[1], ...(m[2] ? { contact: m[2] } : {}) } : undefined;
  }
  if (typeof a === 'object' && a && typeof (a as { name?: unknown }).name === 'string') {
    const email = (a as { email?: unknown }).email;
    return { team: (a as { name: string }).name, ...(typeof email === 'string' ? { contact: email } : {}) };
  }
  return undefined;
}

/** What package.json says about the service. */
export function serviceInfoFrom(pkg: PackageJson | null): ServiceInfo {
  if (!pkg) return {};
  const out: ServiceInfo = {};
  if (typeof pkg.description === 'string' && pkg.description) out.description = pkg.description.slice(0, 2000);
  const owner = pkg.metronome?.owner;
  if (typeof owner === 'string' && owner.trim()) {
    const contact = pkg.metronome?.contact;
    out.owner = { team: owner.trim(), ...(typeof contact === 'string' ? { contact } : {}) };
  } else {
    const a = authorName(pkg.author);
    if (a) out.owner = a;
  }
  const links: Record<string, string> = {};
  const repo = repositoryUrl(pkg.repository);
  if (repo) links.repository = repo;
  if (typeof pkg.homepage === 'string' && /^https?:\/\//.test(pkg.homepage)) links.homepage = pkg.homepage;
  if (typeof pkg.metronome?.runbook === 'string') links.runbook = pkg.metronome.runbook;
  if (Object.keys(links).length) out.links = links;
  return out;
}

/** The registered fields POST /api/v1/services takes (what GET returns holds more: health, series...). */
const DEF_FIELDS = ['name', 'owner', 'description', 'tier', 'links', 'slo'] as const;

/** `current` (what Metronome has, or null) with the missing fields filled from `info`; null when nothing changes. */
export function mergeRegistration(name: string, current: Record<string, unknown> | null, info: ServiceInfo): Record<string, unknown> | null {
  const def: Record<string, unknown> = { name };
  if (current?.registered) for (const k of DEF_FIELDS) if (current[k] !== undefined) def[k] = current[k];
  let changed = !current?.registered;
  if (info.owner && !def.owner) {
    def.owner = info.owner;
    changed = true;
  }
  if (info.description && !def.description) {
    def.description = info.description;
    changed = true;
  }
  if (info.links) {
    const links = { ...((def.links as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(info.links)) {
      if (!links[k]) {
        links[k] = v;
        changed = true;
      }
    }
    if (Object.keys(links).length) def.links = links;
  }
  return changed ? def : null;
}
