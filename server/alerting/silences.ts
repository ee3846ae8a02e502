/**
 * Silences as Alertmanager has them: matchers, a time window, who and why. An alert matched by
 * an active silence is not notified and shows as silenced in the API. Kept in memory, written
 * through to ClickHouse on every change, loaded at start.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from './clock.js';
import { invalid, MetronomeError, type Issue } from '../errors.js';
import { parsePromDuration, parseTime } from '../time.js';
import { anchored, MatcherError, matchesAll, parseMatchers, type LabelMatcher, type Labels } from './labels.js';
import type { AlertingStore, Silence } from './persistence.js';
import { WORDING } from './wording.js';

/** Expired silences stay listed this long (Alertmanager's default retention). */
const SILENCE_RETENTION_MS = 5 * 86_400_000;

export type SilenceState = 'pending' | 'active' | 'expired';

const time = z.union([z.string(), z.number()]);
const matcherObject = z.object({ name: z.string().min(1), value: z.string(), isRegex: z.boolean().default(false), isEqual: z.boolean().default(true) }).strict();

const silenceInputSchema = z
  .object({
    id: z.string().optional(),
    matchers: z.array(z.union([z.string(), matcherObject])).min(1),
    startsAt: time.optional(),
    endsAt: time.optional(),
    /** Alternative to endsAt: a Prometheus duration from startsAt. */
    duration: z.string().optional(),
    createdBy: z.string().min(1).max(256),
    comment: z.string().min(1).max(4096),
  })
  .strict();

function parseTimeField(v: string | number, path: string, issues: Issue[]): number | undefined {
  try {
    return parseTime(v, path);
  } catch {
    issues.push({ path: [path], message: `invalid time ${JSON.stringify(v)}: use RFC 3339 (2024-01-02T15:04:05Z) or unix seconds` });
    return undefined;
  }
}

export interface SilenceView {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
  status: { state: SilenceState };
}

export class Silences {
  readonly #byId = new Map<string, Silence>();

  constructor(
    private readonly store: AlertingStore,
    private readonly clock: Clock,
  ) {}

  async load(): Promise<void> {
    for (const s of await this.store.listSilences()) this.#byId.set(s.id, s);
  }

  state(s: Silence, now = this.clock.now()): SilenceState {
    if (s.endsAt <= now) return 'expired';
    if (s.startsAt > now) return 'pending';
    return 'active';
  }

  list(now = this.clock.now()): Silence[] {
    return [...this.#byId.values()].filter((s) => now - s.endsAt < SILENCE_RETENTION_MS).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  get(id: string): Silence | undefined {
    return this.#byId.get(id);
  }

  /** Ids of the active silences that match these labels. */
  mutedBy(labels: Labels, now = this.clock.now()): string[] {
    const out: string[] = [];
    for (const s of this.#byId.values()) if (s.startsAt <= now && now < s.endsAt && matchesAll(s.matchers, labels)) out.push(s.id);
    return out;
  }

  /** Validate and store a silence (new, or an update of a not yet expired one). Returns its id. */
  async upsert(body: unknown): Promise<string> {
    const now = this.clock.now();
    const parsed = silenceInputSchema.safeParse(body, WORDING);
    if (!parsed.success) {
      throw invalid('MTR_SILENCE_INVALID', parsed.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })), 'body');
    }
    const b = parsed.data;
    const issues: Issue[] = [];
    const matchers: LabelMatcher[] = [];
    b.matchers.forEach((m, i) => {
      if (typeof m === 'string') {
        try {
          matchers.push(...parseMatchers(m));
        } catch (e) {
          if (e instanceof MatcherError) issues.push({ path: ['matchers', i], message: e.message, position: e.position });
          else throw e;
        }
      } else {
        const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
        if (m.isRegex) {
          try {
            anchored(m.value);
          } catch (e) {
            issues.push({ path: ['matchers', i, 'value'], message: `invalid regular expression: ${(e as Error).message}` });
          }
        }
        matchers.push({ name: m.name, op, value: m.value });
      }
    });
    if (matchers.length && issues.length === 0 && matchers.every((m) => matchesAll([m], {}))) {
      issues.push({ path: ['matchers'], message: 'at least one matcher must not match the empty string (a silence must not match every alert)' });
    }
    const startsAt = b.startsAt === undefined ? now : parseTimeField(b.startsAt, 'startsAt', issues);
    let endsAt = b.endsAt === undefined ? undefined : parseTimeField(b.endsAt, 'endsAt', issues);
    if (b.duration !== undefined) {
      const d = parsePromDuration(b.duration);
      if (d === null) issues.push({ path: ['duration'], message: `invalid duration ${JSON.stringify(b.duration)}: use a Prometheus duration like 30m, 2h or 1d12h` });
      else if (endsAt !== undefined) issues.push({ path: ['duration'], message: 'give endsAt or duration, not both' });
      else if (startsAt !== undefined) endsAt = startsAt + d;
    }
    if (endsAt === undefined && !issues.some((i) => i.path?.[0] === 'endsAt' || i.path?.[0] === 'duration')) issues.push({ path: ['endsAt'], message: 'endsAt (or duration) is required' });
    if (startsAt !== undefined && endsAt !== undefined) {
      if (endsAt <= startsAt) issues.push({ path: ['endsAt'], message: 'endsAt must be after startsAt' });
      else if (endsAt <= now) issues.push({ path: ['endsAt'], message: 'endsAt is in the past' });
    }
    let id = b.id;
    if (id !== undefined) {
      const prev = this.#byId.get(id);
      if (!prev) throw new MetronomeError('MTR_SILENCE_NOT_FOUND', [id]);
      if (this.state(prev, now) === 'expired') throw new MetronomeError('MTR_SILENCE_EXPIRED', [id]);
    }
    if (issues.length) throw invalid('MTR_SILENCE_INVALID', issues, 'body');
    const prev = id === undefined ? undefined : this.#byId.get(id);
    // A start in the past means now; an update of an active silence keeps its start.
    const start = prev && this.state(prev, now) === 'active' ? prev.startsAt : Math.max(startsAt!, now);
    id ??= randomUUID();
    const s: Silence = { id, matchers, startsAt: start, endsAt: endsAt!, createdBy: b.createdBy, comment: b.comment, updatedAt: now };
    await this.store.putSilence(s);
    this.#byId.set(id, s);
    return id;
  }

  /** Expire a silence now. */
  async expire(id: string): Promise<void> {
    const now = this.clock.now();
    const s = this.#byId.get(id);
    if (!s) throw new MetronomeError('MTR_SILENCE_NOT_FOUND', [id]);
    if (this.state(s, now) === 'expired') throw new MetronomeError('MTR_SILENCE_EXPIRED', [id]);
    const next = { ...s, startsAt: Math.min(s.startsAt, now), endsAt: now, updatedAt: now };
    await this.store.putSilence(next);
    this.#byId.set(id, next);
  }

  /** A silence in Alertmanager's API v2 shape. */
  view(s: Silence, now = this.clock.now()): SilenceView {
    return {
      id: s.id,
      matchers: s.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.op === '=~' || m.op === '!~', isEqual: m.op === '=' || m.op === '=~' })),
      startsAt: new Date(s.startsAt).toISOString(),
      endsAt: new Date(s.endsAt).toISOString(),
      updatedAt: new Date(s.updatedAt).toISOString(),
      createdBy: s.createdBy,
      comment: s.comment,
      status: { state: this.state(s, now) },
    };
  }
}
