/**
 * Prometheus' HTTP API JSON for query results: times as unix seconds, values as strings in
 * Go's strconv.FormatFloat(f, 'f', -1, 64) form (shortest digits, never an exponent), and
 * NaN, +Inf, -Inf spelled as Prometheus spells them.
 */
import type { QueryBudget } from './budget.js';
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
function formatTime(ms: number): number {
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

/** Bytes per piece of the answer: each piece is counted against MAX_RESULT_BYTES when it is full. */
const PIECE = 64 * 1024;

/**
 * The query API's success body, `{"status":"success","data":{...}}`, as UTF-8 JSON: the same
 * text JSON.stringify gives for `{status, data: formatResult(value)}`, written into 64 KiB
 * buffers so that its size is counted as it grows (MAX_RESULT_BYTES), the deadline is checked
 * and the event loop gets its turns. Writing into buffers rather than growing strings keeps the
 * answer out of the JS heap: with strings, formatting a 2,000-series answer was interrupted by
 * 30-50 ms garbage collections every few hundred milliseconds (CPU profile on the 2-core VM).
 */
export async function formatAnswer(value: QueryValue, budget: Pick<QueryBudget, 'tick' | 'pause' | 'answer'>): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let buf = Buffer.allocUnsafe(PIECE);
  let at = 0;
  const flush = () => {
    budget.answer(at);
    pieces.push(buf.subarray(0, at));
    buf = Buffer.allocUnsafe(PIECE);
    at = 0;
  };
  const put = (s: string) => {
    // At most 3 bytes per UTF-16 unit; a string that may not fit goes after a flush, or alone.
    if (at + 3 * s.length > PIECE) {
      if (at > 0) flush();
      if (3 * s.length > PIECE) {
        const big = Buffer.from(s, 'utf8');
        budget.answer(big.length);
        pieces.push(big);
        return;
      }
    }
    at += buf.write(s, at, 'utf8');
  };
  switch (value.type) {
    case 'scalar':
      put(`{"status":"success","data":{"resultType":"scalar","result":[${formatTime(value.t)},"${formatValue(value.v)}"]}`);
      break;
    case 'string':
      put(`{"status":"success","data":{"resultType":"string","result":[${formatTime(value.t)},${JSON.stringify(value.v)}]}`);
      break;
    case 'vector':
      put('{"status":"success","data":{"resultType":"vector","result":[');
      for (let i = 0; i < value.samples.length; i++) {
        const s = value.samples[i];
        if (budget.tick(16)) await budget.pause();
        put(i ? ',{"metric":' : '{"metric":');
        put(JSON.stringify(s.labels));
        put(`,"value":[${formatTime(s.t)},"${formatValue(s.v)}"]}`);
      }
      put(']}');
      break;
    case 'matrix':
      put('{"status":"success","data":{"resultType":"matrix","result":[');
      for (let i = 0; i < value.series.length; i++) {
        const s = value.series[i];
        put(i ? ',{"metric":' : '{"metric":');
        put(JSON.stringify(s.labels));
        put(',"values":[');
        for (let j = 0; j < s.t.length; j++) {
          if (budget.tick(4)) await budget.pause();
          put(`${j ? ',' : ''}[${formatTime(s.t[j])},"${formatValue(s.v[j])}"]`);
        }
        put(']}');
      }
      put(']}');
      break;
  }
  if (value.warnings?.length) put(`,"warnings":${JSON.stringify(value.warnings)}`);
  if (value.infos?.length) put(`,"infos":${JSON.stringify(value.infos)}`);
  put('}');
  flush();
  return Buffer.concat(pieces);
}
