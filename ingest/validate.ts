import type { Issue } from './issues.js';
import type { WriteBatch } from './types.js';

/** The rules every protocol's samples must pass before anything is stored. */
export interface WriteLimits {
  maxKeyLength: number;
  maxTags: number;
  maxTagNameLength: number;
  maxTagValueBytes: number;
  /** Oldest accepted timestamp is now - retentionMs. */
  retentionMs: number;
  /** Newest accepted timestamp is now + maxFutureMs. */
  maxFutureMs: number;
  /** Stop collecting issues after this many (the count is still reported). */
  maxIssues: number;
}

export const DEFAULT_LIMITS: WriteLimits = {
  maxKeyLength: 256,
  maxTags: 32,
  maxTagNameLength: 256,
  maxTagValueBytes: 1024,
  retentionMs: 15 * 86_400_000,
  maxFutureMs: 10 * 60_000,
  maxIssues: 100,
};

const TAG_NAME = /^[a-zA-Z_][a-zA-Z0-9_.]*$/;

// Tag names repeat across series and requests: remember the valid ones (bounded).
const validNames = new Set<string>();
function validTagName(name: string): boolean {
  if (validNames.has(name)) return true;
  if (!TAG_NAME.test(name)) return false;
  if (validNames.size < 10_000) validNames.add(name);
  return true;
}

/** Collects issues up to a cap while counting all of them. */
export class IssueList {
  readonly items: Issue[] = [];
  count = 0;
  constructor(readonly max: number = DEFAULT_LIMITS.maxIssues) {}
  add(issue: Issue): void {
    if (this.count++ < this.max) this.items.push(issue);
  }
  get ok(): boolean {
    return this.count === 0;
  }
}

const UNPAIRED = 'contains an unpaired UTF-16 surrogate (not valid Unicode text)';

function utf8Length(s: string, limit: number): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: skip the exact count for strings surely within the limit.
  return s.length * 3 <= limit ? s.length : Buffer.byteLength(s, 'utf8');
}

/**
 * Check the series and samples of a decoded batch. Adds to `issues` (and returns it); the
 * request is rejected whole if any issue is found.
 */
export function validateBatch(
  batch: WriteBatch,
  limits: WriteLimits,
  now: number,
  issues: IssueList = new IssueList(limits.maxIssues),
): IssueList {
  const minTs = now - limits.retentionMs;
  const maxTs = now + limits.maxFutureMs;
  const series = batch.series;
  for (let s = 0; s < series.length; s++) {
    const { key, tags, timestamps, values, memo } = series[s];
    // A cached series already checked under these limits: only its points are left to check.
    if (memo === undefined || memo.validFor !== limits) {
      const before = issues.count;
      checkSeries(key, tags, s, limits, issues);
      if (memo !== undefined && issues.count === before) memo.validFor = limits;
    }
    const n = timestamps.length;
    for (let p = 0; p < n; p++) {
      const t = timestamps[p];
      const v = values[p];
      if (typeof t !== 'number' || !Number.isInteger(t)) {
        issues.add({
          code: 'MTR_WRITE_TIMESTAMP_TYPE',
          series: s,
          point: p,
          field: 'timestamp',
          message: `timestamp ${JSON.stringify(t)} must be an integer number of milliseconds`,
        });
      } else if (t < minTs || t > maxTs) {
        issues.add({
          code: 'MTR_WRITE_TIMESTAMP_RANGE',
          series: s,
          point: p,
          field: 'timestamp',
          message: `timestamp ${t} is outside the accepted window [${minTs}, ${maxTs}] (retention to now + ${limits.maxFutureMs} ms)`,
        });
      }
      // NaN and +-Inf are values (Prometheus stores them); staleness markers never get here.
      if (typeof v !== 'number') {
        issues.add({
          code: 'MTR_WRITE_VALUE_TYPE',
          series: s,
          point: p,
          field: 'value',
          message: `value ${JSON.stringify(v) ?? 'undefined'} must be a number`,
        });
      }
    }
  }
  return issues;
}

/** The key and tags of series `s`: names, lengths, encodings, tag count. */
function checkSeries(key: string, tags: Record<string, string>, s: number, limits: WriteLimits, issues: IssueList): void {
  if (typeof key !== 'string' || key.length === 0) {
    issues.add({ code: 'MTR_WRITE_KEY_EMPTY', series: s, field: 'key', message: 'key must be a non-empty string' });
  } else if (key.length > limits.maxKeyLength) {
    issues.add({
      code: 'MTR_WRITE_KEY_TOO_LONG',
      series: s,
      field: 'key',
      message: `key is ${key.length} characters; at most ${limits.maxKeyLength} allowed`,
    });
  } else if (!key.isWellFormed()) {
    issues.add({ code: 'MTR_WRITE_STRING_ENCODING', series: s, field: 'key', message: UNPAIRED });
  }
  let tagCount = 0;
  for (const name in tags) {
    tagCount++;
    const value = tags[name];
    if (name.length > limits.maxTagNameLength) {
      issues.add({
        code: 'MTR_WRITE_TAG_NAME_TOO_LONG',
        series: s,
        field: `tags.${name.slice(0, 64)}...`,
        message: `tag name is ${name.length} characters; at most ${limits.maxTagNameLength} allowed`,
      });
    } else if (!validTagName(name)) {
      issues.add({
        code: 'MTR_WRITE_TAG_NAME',
        series: s,
        field: `tags.${name}`,
        message: `tag name ${JSON.stringify(name)} must match [a-zA-Z_][a-zA-Z0-9_.]*`,
      });
    }
    if (typeof value !== 'string') {
      issues.add({ code: 'MTR_WRITE_TAG_VALUE_TYPE', series: s, field: `tags.${name}`, message: 'tag value must be a string' });
    } else if (utf8Length(value, limits.maxTagValueBytes) > limits.maxTagValueBytes) {
      issues.add({
        code: 'MTR_WRITE_TAG_VALUE_TOO_LONG',
        series: s,
        field: `tags.${name}`,
        message: `tag value is ${Buffer.byteLength(value)} bytes; at most ${limits.maxTagValueBytes} allowed`,
      });
    } else if (!value.isWellFormed()) {
      // A lone surrogate has no UTF-8 form: storing it would fail the whole group commit.
      issues.add({ code: 'MTR_WRITE_STRING_ENCODING', series: s, field: `tags.${name}`, message: UNPAIRED });
    }
  }
  if (tagCount > limits.maxTags) {
    issues.add({
      code: 'MTR_WRITE_TOO_MANY_TAGS',
      series: s,
      field: 'tags',
      message: `${tagCount} tags; at most ${limits.maxTags} allowed`,
    });
  }
}
