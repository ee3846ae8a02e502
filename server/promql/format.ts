/**
 * Prometheus' HTTP API JSON for query results: times as unix seconds, values as strings in
 * Go's strconv.FormatFloat(f, 'f', -1, 64) form (shortest digits, never an exponent), and
 * NaN, +Inf, -Inf spelled as Prometheus spells them.
 */
import type { QueryValue } from './types.js';

/** A float as Prometheus prints it. */
export function formatValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const s = String(x);
  if (!s.includes('e')) return s;
  // Expand JS's exponent form to plain digits (Go's 'f' format with the shortest precision).
  const neg = s.startsWith('-');
  const [mant, expStr] = (neg ? s.slice(1) : s).split('e');
  const exp = Number(expStr);
  const [intPart, frac = ''] = mant.split('.');
  const digits = intPart + frac;
  const point = intPart.length + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

/** Unix ms as the seconds Prometheus puts in results (a number, at most 3 decimals). */
export function formatTime(ms: number): number {
  return ms / 1000;
}

export interface PromData {
  resultType: 'matrix' | 'vector' | 'scalar' | 'string';
  result: unknown;
}

/** The `data` member of a Prometheus query response. */
export function formatResult(value: QueryValue): PromData {
  switch (value.type) {
    case 'scalar':
      return { resultType: 'scalar', result: [formatTime(value.t), formatValue(value.v)] };
    case 'string':
      return { resultType: 'string', result: [formatTime(value.t), value.v] };
    case 'vector':
      return {
        resultType: 'vector',
        result: value.samples.map((s) => ({ metric: s.labels, value: [formatTime(s.t), formatValue(s.v)] })),
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: value.series.map((s) => ({
          metric: s.labels,
          values: s.t.map((t, i) => [formatTime(t), formatValue(s.v[i])]),
        })),
      };
  }
}
