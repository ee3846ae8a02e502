/**
 * Heroic's filter language (["and", ...], ["=", tag, value], ["key", k], ...) as SQL over the
 * series table, and Heroic's QueryDateRange. Used by the metadata and suggest endpoints.
 * Every value is a bound parameter; an invalid filter reports the path of the bad element.
 */
import { regexProblem } from '../regex.js';
import { HqlError, parseHqlFilter, type FilterArray } from './heroic-hql.js';
import { join, param, raw, sql, type Sql } from '../store/index.js';

/** An invalid filter: `path` names the bad element (`filter[2][1]`), `reason` says what is wrong. */
export class FilterError extends Error {
  override name = 'FilterError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * Filter forms: ["and", f...], ["or", f...], ["not", f], ["key", k], ["=", tag, value],
 * ["!=", tag, value], ["+", tag] (has tag), ["^", tag, prefix] (starts with),
 * ["~", tag, regex] (fully anchored), ["q", "<HQL>"], ["true"], ["false"]; or the whole filter as an
 * HQL string (heroic-hql.ts). `key` may be used as the tag of
 * =, !=, ^ and ~ to mean the metric key.
 */
export function filterSql(f: unknown, path = 'filter'): Sql {
  if (typeof f === 'string') return filterSql(hql(f, path), path);
  if (!Array.isArray(f) || f.length === 0 || typeof f[0] !== 'string') {
    throw new FilterError(path, 'a filter is an array whose first element names the operator, e.g. ["=", "host", "a"]');
  }
  const [op, ...args] = f as [string, ...unknown[]];
  const str = (i: number): string => {
    const v = args[i];
    if (typeof v !== 'string') throw new FilterError(`${path}[${i + 1}]`, `expected a string for ${JSON.stringify(op)}`);
    return v;
  };
  const arity = (n: number) => {
    if (args.length !== n) throw new FilterError(path, `${JSON.stringify(op)} takes ${n} argument(s), got ${args.length}`);
  };
  const column = (name: string): Sql => (name === 'key' || name === '__name__' ? raw('key') : sql`tags[${param('String', name)}]`);
  switch (op) {
    case 'and':
    case 'or':
      if (args.length === 0) return raw(op === 'and' ? '1' : '0');
      return sql`(${join(
        args.map((a, i) => filterSql(a, `${path}[${i + 1}]`)),
        op === 'and' ? ' AND ' : ' OR ',
      )})`;
    case 'not':
      arity(1);
      return sql`NOT (${filterSql(args[0], `${path}[1]`)})`;
    case 'q':
      // An HQL string inside the array form (Grafana's "custom filter").
      arity(1);
      return filterSql(hql(str(0), `${path}[1]`), `${path}[1]`);
    case 'true':
      return raw('1');
    case 'false':
      return raw('0');
    case 'key':
      arity(1);
      return sql`key = ${param('String', str(0))}`;
    case '=':
      arity(2);
      return sql`${column(str(0))} = ${param('String', str(1))}`;
    case '!=':
      arity(2);
      return sql`${column(str(0))} != ${param('String', str(1))}`;
    case '+':
      arity(1);
      return sql`mapContains(tags, ${param('String', str(0))})`;
    case '^':
      arity(2);
      return sql`startsWith(${column(str(0))}, ${param('String', str(1))})`;
    case '~': {
      arity(2);
      const re = str(1);
      // ClickHouse runs it (RE2); checked here with the same syntax so the element is named.
      const problem = regexProblem(re);
      if (problem) throw new FilterError(`${path}[2]`, `invalid regular expression: ${problem}`);
      return sql`match(${column(str(0))}, ${param('String', `^(?:${re})$`)})`;
    }
    default:
      throw new FilterError(path, `unknown filter operator ${JSON.stringify(op)}; use and, or, not, key, =, !=, +, ^, ~, q, true, false`);
  }
}

function hql(text: string, path: string): FilterArray {
  try {
    return parseHqlFilter(text);
  } catch (e) {
    if (e instanceof HqlError) throw new FilterError(path, `HQL: ${e.reason} at position ${e.position}`);
    throw e;
  }
}

/**
 * A filter in either form (array, or an HQL string, also inside ["q", ...]) as Heroic's array
 * form, checked: what /parser/parse-filter answers.
 */
export function normalizeFilter(f: unknown, path = 'filter'): FilterArray {
  const norm = (x: unknown, p: string): FilterArray => {
    if (typeof x === 'string') return norm(hql(x, p), p);
    filterSql(x, p);
    const [op, ...args] = x as FilterArray;
    if (op === 'q') return norm(args[0], `${p}[1]`);
    if (op === 'and' || op === 'or' || op === 'not') return [op, ...args.map((a, i) => norm(a, `${p}[${i + 1}]`))];
    return x as FilterArray;
  };
  return norm(f, path);
}

const UNIT_MS: Record<string, number> = {
  MILLISECONDS: 1,
  SECONDS: 1000,
  MINUTES: 60_000,
  HOURS: 3_600_000,
  DAYS: 86_400_000,
  WEEKS: 604_800_000,
  MONTHS: 2_592_000_000,
};

/** Heroic's QueryDateRange: {type: "absolute", start, end} or {type: "relative", unit, value}. */
export function dateRange(r: unknown, now = Date.now()): { start: number; end: number } | undefined {
  if (r === undefined || r === null) return undefined;
  if (typeof r !== 'object') throw new FilterError('range', 'expected an object like {"type": "relative", "unit": "HOURS", "value": 2}');
  const o = r as Record<string, unknown>;
  if (o.type === 'absolute') {
    if (typeof o.start !== 'number' || typeof o.end !== 'number') throw new FilterError('range', 'an absolute range needs numeric start and end (unix ms)');
    if (o.end < o.start) throw new FilterError('range.end', 'end is before start');
    return { start: o.start, end: o.end };
  }
  if (o.type === 'relative') {
    const unit = String(o.unit ?? 'DAYS').toUpperCase();
    if (!(unit in UNIT_MS)) throw new FilterError('range.unit', `unknown unit ${JSON.stringify(o.unit)}; use ${Object.keys(UNIT_MS).join(', ')}`);
    const value = o.value ?? 1;
    if (typeof value !== 'number' || !(value >= 0)) throw new FilterError('range.value', 'expected a non-negative number');
    return { start: now - value * UNIT_MS[unit], end: now };
  }
  throw new FilterError('range.type', 'expected "absolute" or "relative"');
}
