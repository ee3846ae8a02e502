import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config.js';

/**
 * API tokens: where they come from (AUTH_TOKENS, AUTH_TOKENS_FILE), how they are kept (sha256
 * digests only; the plain text is dropped after hashing) and how a presented token is checked
 * (constant time: every digest is compared with crypto.timingSafeEqual, no early exit).
 */

/** What a token may do. admin implies read (changing rules means seeing them); write does not. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who made a request, once its token checked out. */
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** write is limited to these services (the series' service or job tag); null = any. */
  services: ReadonlySet<string> | null;
  /** Per-token overrides of RATE_LIMIT_REQUESTS / RATE_LIMIT_POINTS. */
  requestsPerSecond?: number;
  pointsPerSecond?: number;
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

const tokenSchema = z
  .object({
    name: z.string().regex(NAME, 'must be 1-64 characters of A-Z a-z 0-9 _ . @ -'),
    token: z.string().min(16, 'must be at least 16 characters (use a random secret)').max(512).optional(),
    sha256: z.string().regex(HEX64, 'must be 64 hex digits (sha256 of the token)').optional(),
    scopes: z.array(z.enum(SCOPES)).min(1),
    services: z.array(z.string().min(1)).min(1).optional(),
    requests_per_second: z.number().min(0).optional(),
    points_per_second: z.number().min(0).optional(),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), { message: 'give exactly one of token and sha256' });

const fileSchema = z.union([z.array(tokenSchema), z.object({ tokens: z.array(tokenSchema) }).strict()]);

export type TokenSpec = z.infer<typeof tokenSchema>;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The configured tokens, hashed. */
export class TokenSet {
  readonly #entries: Entry[];

  constructor(specs: readonly TokenSpec[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.#entries = specs.map((s) => {
      if (names.has(s.name)) throw new ConfigError(`auth: token name ${JSON.stringify(s.name)} is used twice`);
      names.add(s.name);
      const digest = s.sha256 ? Buffer.from(s.sha256, 'hex') : sha256(s.token!);
      if (digests.has(digest.toString('hex'))) throw new ConfigError(`auth: token ${JSON.stringify(s.name)} has the same secret as another token`);
      digests.add(digest.toString('hex'));
      const scopes = new Set<Scope>(s.scopes);
      if (scopes.has('admin')) scopes.add('read');
      return {
        digest,
        principal: {
          name: s.name,
          scopes,
          services: s.services ? new Set(s.services) : null,
          requestsPerSecond: s.requests_per_second,
          pointsPerSecond: s.points_per_second,
        },
      };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The principal whose token this is, or null. Takes the same time whichever token matches. */
  verify(presented: string): Principal | null {
    const d = sha256(presented);
    let found: Principal | null = null;
    for (const e of this.#entries) {
      // No early exit: the time does not say which entry (if any) matched.
      if (timingSafeEqual(d, e.digest)) found = e.principal;
    }
    return found;
  }
}

/** Parse the YAML/JSON token list of AUTH_TOKENS_FILE (or of AUTH_TOKENS when it starts with [ or {). */
export function parseTokenList(text: string, source: string): TokenSpec[] {
  let tree: unknown;
  try {
    tree = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`auth: ${source}: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = fileSchema.safeParse(tree ?? []);
  if (!r.success) {
    // Report the issue of the list branch (the usual form), with its path.
    const issues = r.error.issues.flatMap((i) => (i.code === 'invalid_union' ? (i.errors[0] ?? []) : [i]));
    const i = issues[0] ?? r.error.issues[0];
    const path = i.path.length ? i.path.join('.') : '(top)';
    throw new ConfigError(`auth: ${source}: ${path}: ${i.message}`);
  }
  return Array.isArray(r.data) ? r.data : r.data.tokens;
}

/**
 * The compact form of AUTH_TOKENS: `name:token:scope+scope[:service|service]`, comma-separated,
 * e.g. `prom:0123456789abcdef:write,grafana:fedcba9876543210:read`.
 */
export function parseCompactTokens(text: string): TokenSpec[] {
  const out: TokenSpec[] = [];
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  parts.forEach((part, i) => {
    const f = part.split(':');
    if (f.length < 3 || f.length > 4) {
      throw new ConfigError(`auth: AUTH_TOKENS entry ${i + 1}: expected name:token:scopes[:services], got ${f.length} field(s)`);
    }
    const spec = {
      name: f[0],
      token: f[1],
      scopes: f[2].split('+').filter(Boolean),
      services: f[3] !== undefined ? f[3].split('|').filter(Boolean) : undefined,
    };
    const r = tokenSchema.safeParse(spec);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ConfigError(`auth: AUTH_TOKENS entry ${i + 1} (${JSON.stringify(f[0])}): ${issue.path.join('.') || 'entry'}: ${issue.message}`);
    }
    out.push(r.data);
  });
  return out;
}

/** Every token configured through AUTH_TOKENS and AUTH_TOKENS_FILE. Throws ConfigError naming the problem. */
export function loadTokens(cfg: { AUTH_TOKENS?: string; AUTH_TOKENS_FILE?: string }): TokenSet {
  const specs: TokenSpec[] = [];
  if (cfg.AUTH_TOKENS_FILE) {
    let text: string;
    try {
      text = readFileSync(cfg.AUTH_TOKENS_FILE, 'utf8');
    } catch (e) {
      throw new ConfigError(`auth: cannot read AUTH_TOKENS_FILE ${cfg.AUTH_TOKENS_FILE}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    specs.push(...parseTokenList(text, cfg.AUTH_TOKENS_FILE));
  }
  if (cfg.AUTH_TOKENS) {
    const t = cfg.AUTH_TOKENS.trim();
    specs.push(...(t.startsWith('[') || t.startsWith('{') ? parseTokenList(t, 'AUTH_TOKENS') : parseCompactTokens(t)));
  }
  return new TokenSet(specs);
}
