import { DecodeBudget, DecodeLimitError, NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { influxLabelName } from './names.js';
import { drain } from './slices.js';
import type { WriteIssueCode } from './issues.js';
import type { IssueList } from './validate.js';
import type { SeriesMemo, SeriesSamples, WriteBatch } from './types.js';

/**
 * InfluxDB line protocol (v1 and v2 share it):
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * Mapping (documented in README "Protocols"):
 * - each field is its own series: key `<measurement>_<field>`, or just `<measurement>` when the
 *   field is called `value` (the convention of single-value writers, e.g. `temp value=21.5`);
 * - the key and tag names are made PromQL-safe: characters outside [a-zA-Z0-9_:] (keys) or
 *   [a-zA-Z0-9_] (tag names) become `_`, and a leading digit gets a `_` prefix, the rule
 *   Telegraf's Prometheus outputs use, so `cpu.load` is queried as `cpu_load`;
 * - floats, integers (`1i`), unsigned integers (`1u`) and booleans (t/T/true/True/TRUE ->
 *   1, f/F/false/False/FALSE -> 0) are stored as Float64 numbers; string fields are rejected
 *   with the line number (Metronome stores numbers only);
 * - timestamps are converted from the request's precision (ns, us, ms, s; v1 also n, u, m, h)
 *   to milliseconds, truncating what is finer; a line without one gets the request's time.
 *
 * Escapes, as in the reference parser: in the measurement `\,` and `\ `; in tag keys, tag
 * values and field keys `\,` `\=` `\ `; in string field values `\"` and `\\`. A backslash before
 * any other character is kept literally. Lines starting with `#` are comments.
 *
 * Hot path: the series part of a line (measurement and tags, up to the first unescaped space)
 * is the cache key; its parsed, sanitised form and per-field keys are kept across requests,
 * so a repeated series costs one Map lookup.
 */

/** Milliseconds from a timestamp at a precision: divide by 10^digits (or multiply by factor). */
interface Precision {
  /** Low decimal digits to drop (ns: 6, us: 3, ms: 0). */
  drop: number;
  /** Multiplier after dropping (s: 1000, m: 60000, h: 3600000). */
  factor: number;
}

const PRECISIONS: Record<string, Precision> = {
  ns: { drop: 6, factor: 1 },
  n: { drop: 6, factor: 1 },
  us: { drop: 3, factor: 1 },
  u: { drop: 3, factor: 1 },
  'µ': { drop: 3, factor: 1 },
  ms: { drop: 0, factor: 1 },
  s: { drop: 0, factor: 1000 },
  m: { drop: 0, factor: 60_000 },
  h: { drop: 0, factor: 3_600_000 },
};

/** The precision names accepted by /influx/api/v2/write (v1 also accepts n, u, m, h). */
export const V2_PRECISIONS = ['ns', 'us', 'ms', 's'];

/** A precision parameter's conversion, or undefined if the name is unknown. */
export function precisionOf(name: string | undefined): Precision | undefined {
  return PRECISIONS[name === undefined || name === '' ? 'ns' : name];
}

interface FieldKey {
  /** The field key as written in the line, escapes included. */
  raw: string;
  key: string;
  epoch: number;
  index: number;
  /** Id and validation of the series (this field of this series part), kept across requests. */
  memo: SeriesMemo;
}

interface SeriesEntry {
  tags: Record<string, string>;
  /** Tags in the series part (the labels limit is checked on every use of a cached entry). */
  tagCount: number;
  measurement: string;
  /** Problem with the series part, reported for each line that uses it. */
  problem: string | null;
  problemCode: WriteIssueCode;
  fields: Map<string, FieldKey>;
  /** The fields of the last line of this series, in order: the next line usually repeats them. */
  layout: FieldKey[];
}

export interface InfluxResult {
  batch: WriteBatch;
  /**
   * Per series of the batch, the 1-based line number of each point, when asked for (the route
   * asks only to report validation issues, by decoding the same text again).
   */
  lines: number[][] | null;
  /** Non-empty, non-comment lines. */
  lineCount: number;
}

/** Lines parsed between two yields of `steps`. */
const SLICE_LINES = 1024;

/** A decode's progress between slices (#slice keeps it in locals meanwhile). */
interface DecodeState {
  budget: DecodeBudget;
  samples: number;
  mine: Map<FieldKey, number> | undefined;
  series: SeriesSamples[];
  lines: number[][] | null;
  points: number;
  lineNo: number;
  lineCount: number;
  pos: number;
  /** Per line, the fields parsed so far (committed only if the whole line is valid). */
  pendKeys: FieldKey[];
  pendValues: number[];
}

export interface InfluxDecoderOptions {
  /** Series parts remembered across requests; the cache is emptied when it grows past this. */
  maxCachedSeries?: number;
}

const SPACE = 32;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const QUOTE = 34;
const CR = 13;
const TAB = 9;
const HASH = 35;

/** Decodes line protocol, remembering series parts between requests (one per server). */
export class InfluxDecoder {
  readonly #cache = new Map<string, SeriesEntry>();
  readonly #max: number;
  #epoch = 0;
  /** Epochs of decodes in progress (sliced decodes of concurrent requests interleave). */
  readonly #active = new Set<number>();

  constructor(opts: InfluxDecoderOptions = {}) {
    this.#max = opts.maxCachedSeries ?? 100_000;
  }

  /**
   * Decode a body. Problems are added to `issues` with their line number; lines with problems
   * contribute no points (the caller rejects the whole request when `issues` is not empty).
   * With `trackLines`, the result says which line each point came from. Throws
   * DecodeLimitError as soon as the request passes `limits` (fields are counted as samples when
   * parsed, tags while a series part is parsed).
   */
  decode(
    text: string,
    precision: Precision,
    now: number,
    issues: IssueList,
    trackLines = false,
    limits: DecodeLimits = NO_DECODE_LIMITS,
  ): InfluxResult {
    return drain(this.steps(text, precision, now, issues, trackLines, limits));
  }

  /** `decode` in slices: yields every 1,024 lines (see slices.ts). */
  *steps(
    text: string,
    precision: Precision,
    now: number,
    issues: IssueList,
    trackLines = false,
    limits: DecodeLimits = NO_DECODE_LIMITS,
  ): Generator<void, InfluxResult> {
    const epoch = ++this.#epoch;
    this.#active.add(epoch);
    try {
      return yield* this.#lines(text, precision, now, issues, trackLines, limits, epoch);
    } finally {
      this.#active.delete(epoch);
    }
  }

  *#lines(
    text: string,
    precision: Precision,
    now: number,
    issues: IssueList,
    trackLines: boolean,
    limits: DecodeLimits,
    epoch: number,
  ): Generator<void, InfluxResult> {
    const st: DecodeState = {
      budget: new DecodeBudget(limits),
      samples: 0,
      mine: undefined,
      series: [],
      lines: trackLines ? [] : null,
      points: 0,
      lineNo: 0,
      lineCount: 0,
      pos: 0,
      pendKeys: [],
      pendValues: [],
    };
    // The lines are parsed by a plain method, a slice at a time: the same loop inside this
    // generator ran about a fifth slower (V8 optimizes generator bodies less).
    for (;;) {
      this.#slice(text, precision, now, issues, limits, epoch, st);
      if (st.pos >= text.length) break;
      yield;
    }
    return { batch: { series: st.series, points: st.points }, lines: st.lines, lineCount: st.lineCount };
  }

  /** Parse up to SLICE_LINES lines from `st.pos`, carrying on from and into `st`. */
  #slice(text: string, precision: Precision, now: number, issues: IssueList, limits: DecodeLimits, epoch: number, st: DecodeState): void {
    const { budget, series, lines, pendKeys, pendValues } = st;
    const maxSamples = limits.maxSamples;
    let { samples, mine, points, lineNo, lineCount, pos } = st;
    const n = text.length;
    const stop = lineNo + SLICE_LINES;

    while (pos < n && lineNo < stop) {
      ++lineNo;
      let eol = text.indexOf('\n', pos);
      if (eol === -1) eol = n;
      let start = pos;
      pos = eol + 1;
      let end = eol;
      if (end > start && text.charCodeAt(end - 1) === CR) end--;
      while (start < end && (text.charCodeAt(start) === SPACE || text.charCodeAt(start) === TAB)) start++;
      if (start === end || text.charCodeAt(start) === HASH) continue;
      lineCount++;

      // The series part: up to the first unescaped space. The first space found natively is
      // it unless a backslash precedes it (then walk the escapes).
      let i = text.indexOf(' ', start);
      if (i === -1 || i > end) i = end;
      else if (text.charCodeAt(i - 1) === BACKSLASH) {
        for (i = start; i < end; i++) {
          const c = text.charCodeAt(i);
          if (c === BACKSLASH) i++;
          else if (c === SPACE) break;
        }
      }
      if (i >= end) {
        issues.add({ code: 'MTR_WRITE_INFLUX_SYNTAX', line: lineNo, message: `line ${lineNo}: missing fields (expected "measurement[,tags] field=value[,...] [timestamp]")` });
        continue;
      }
      const seriesText = text.slice(start, i);
      let entry = this.#cache.get(seriesText);
      if (entry === undefined) {
        entry = parseSeries(seriesText, limits.maxLabels, lineNo);
        if (this.#cache.size >= this.#max) this.#cache.clear();
        this.#cache.set(seriesText, entry);
      }
      // `__name__` counts as a label, as on the other protocols.
      if (entry.tagCount + 1 > limits.maxLabels) budget.labels(entry.tagCount + 1, `line ${lineNo}`);
      if (entry.problem !== null) {
        issues.add({ code: entry.problemCode, line: lineNo, message: `line ${lineNo}: ${entry.problem}` });
        continue;
      }

      // Fields: key=value pairs up to the next unescaped space outside a string value.
      i++;
      pendKeys.length = 0;
      pendValues.length = 0;
      const layout = entry.layout;
      let bad = false;
      for (let f = 0; ; f++) {
        const keyStart = i;
        let fk: FieldKey | undefined = layout[f];
        // Fast path: the same field as in this series' previous line.
        if (fk !== undefined && text.startsWith(fk.raw, i) && text.charCodeAt(i + fk.raw.length) === EQUALS) {
          i += fk.raw.length;
        } else {
          let hasEscape = false;
          for (; i < end; i++) {
            const c = text.charCodeAt(i);
            if (c === BACKSLASH) {
              hasEscape = true;
              i++;
            } else if (c === EQUALS || c === COMMA || c === SPACE) break;
          }
          if (i >= end || text.charCodeAt(i) !== EQUALS || i === keyStart) {
            issues.add({
              code: 'MTR_WRITE_INFLUX_SYNTAX',
              line: lineNo,
              message: `line ${lineNo}: invalid field at column ${keyStart - start + 1}: expected field=value`,
            });
            bad = true;
            break;
          }
          const raw = text.slice(keyStart, i);
          fk = entry.fields.get(raw);
          if (fk === undefined) {
            fk = { raw, key: fieldKey(entry.measurement, hasEscape ? unescape(raw) : raw), epoch: 0, index: 0, memo: { hi: 0, lo: 0, idSet: false, validFor: null, seenBy: undefined, seenSlot: 0 } };
            entry.fields.set(raw, fk);
          }
          layout[f] = fk;
        }
        i++; // '='
        const valueStart = i;
        if (i < end && text.charCodeAt(i) === QUOTE) {
          const name = fieldName(fk.raw);
          issues.add({
            code: 'MTR_WRITE_INFLUX_STRING_FIELD',
            line: lineNo,
            field: name,
            message: `line ${lineNo}: field "${name}" is a string; Metronome stores numbers only (float, integer, unsigned, boolean)`,
          });
          bad = true;
          break;
        }
        for (; i < end; i++) {
          const c = text.charCodeAt(i);
          if (c === COMMA || c === SPACE) break;
        }
        const value = parseFieldValue(text, valueStart, i);
        if (value === undefined) {
          const name = fieldName(fk.raw);
          issues.add({
            code: 'MTR_WRITE_INFLUX_FIELD_VALUE',
            line: lineNo,
            field: name,
            message: `line ${lineNo}: field "${name}" has invalid value ${JSON.stringify(text.slice(valueStart, i))}; expected a float, 12i, 12u or a boolean`,
          });
          bad = true;
          break;
        }
        if (++samples > maxSamples) budget.addSamples(samples, `line ${lineNo}`);
        pendKeys.push(fk);
        pendValues.push(value);
        if (i < end && text.charCodeAt(i) === COMMA) {
          i++;
          continue;
        }
        if (layout.length > f + 1) layout.length = f + 1;
        break;
      }
      if (bad) continue;

      // Timestamp.
      while (i < end && text.charCodeAt(i) === SPACE) i++;
      let ts = now;
      if (i < end) {
        const t = parseTimestamp(text, i, end, precision);
        if (t === undefined) {
          issues.add({
            code: 'MTR_WRITE_INFLUX_TIMESTAMP',
            line: lineNo,
            field: 'timestamp',
            message: `line ${lineNo}: invalid timestamp ${JSON.stringify(text.slice(i, end))}; expected an integer in the request's precision`,
          });
          continue;
        }
        ts = t;
      }

      for (let f = 0; f < pendKeys.length; f++) {
        const fk = pendKeys[f];
        const v = pendValues[f];
        const at = fk.epoch === epoch ? fk.index : (mine?.get(fk) ?? -1);
        if (at >= 0) {
          const s = series[at];
          (s.timestamps as number[]).push(ts);
          (s.values as number[]).push(v);
          if (lines) lines[at].push(lineNo);
        } else {
          // A key another decode in progress has marked keeps its mark: this one notes its own
          // index aside, so each decode's batch is the same as alone (the route's second pass
          // for line numbers relies on it).
          if (this.#active.has(fk.epoch)) (mine ??= new Map()).set(fk, series.length);
          else {
            fk.epoch = epoch;
            fk.index = series.length;
          }
          budget.addSeries(1, `line ${lineNo}`);
          series.push({ key: fk.key, tags: entry.tags, timestamps: [ts], values: [v], memo: fk.memo });
          if (lines) lines.push([lineNo]);
        }
        points++;
      }
    }
    st.samples = samples;
    st.mine = mine;
    st.points = points;
    st.lineNo = lineNo;
    st.lineCount = lineCount;
    st.pos = pos;
  }
}

/** A field key without its escapes, for messages. */
function fieldName(raw: string): string {
  return raw.includes('\\') ? unescape(raw) : raw;
}

/**
 * Parse `measurement[,tag=value...]`. Problems are recorded on the entry; more than `maxLabels`
 * labels (tags + the name) throw DecodeLimitError before the rest is parsed.
 */
function parseSeries(s: string, maxLabels: number, lineNo: number): SeriesEntry {
  const entry: SeriesEntry = { tags: {}, tagCount: 0, measurement: '', problem: null, problemCode: 'MTR_WRITE_INFLUX_SYNTAX', fields: new Map(), layout: [] };
  let i = 0;
  const n = s.length;
  let escaped = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH) {
      escaped = true;
      i++;
    } else if (c === COMMA) break;
  }
  const rawMeasurement = s.slice(0, i);
  entry.measurement = escaped ? unescape(rawMeasurement) : rawMeasurement;
  if (entry.measurement === '') {
    entry.problem = 'missing measurement name';
    return entry;
  }
  const original = new Map<string, string>();
  while (i < n) {
    if (++entry.tagCount + 1 > maxLabels) throw new DecodeLimitError('maxLabels', maxLabels, `line ${lineNo}`);
    i++; // ','
    const ks = i;
    let kEsc = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH) {
        kEsc = true;
        i++;
      } else if (c === EQUALS || c === COMMA) break;
    }
    if (i >= n || s.charCodeAt(i) !== EQUALS || i === ks) {
      entry.problem = `invalid tag ${JSON.stringify(s.slice(ks, i))}: expected tag=value`;
      return entry;
    }
    const rawKey = s.slice(ks, i);
    i++;
    const vs = i;
    let vEsc = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH) {
        vEsc = true;
        i++;
      } else if (c === COMMA) break;
      else if (c === EQUALS) {
        entry.problem = `invalid tag value ${JSON.stringify(s.slice(vs, i + 1))}: an equals sign must be escaped`;
        return entry;
      }
    }
    if (i === vs) {
      entry.problem = `tag ${JSON.stringify(rawKey)} has an empty value`;
      return entry;
    }
    const key = kEsc ? unescape(rawKey) : rawKey;
    const value = vEsc ? unescape(s.slice(vs, i)) : s.slice(vs, i);
    const name = influxLabelName(key);
    const prior = original.get(name);
    if (prior !== undefined && prior !== key) {
      entry.problem = `tag keys ${JSON.stringify(prior)} and ${JSON.stringify(key)} both map to the tag name "${name}"`;
      entry.problemCode = 'MTR_WRITE_INFLUX_TAG';
      return entry;
    }
    if (name === '__name__') {
      entry.problem = 'the tag name "__name__" is reserved for the metric name';
      entry.problemCode = 'MTR_WRITE_INFLUX_TAG';
      return entry;
    }
    original.set(name, key);
    entry.tags[name] = value;
  }
  return entry;
}

/** Remove line-protocol escapes: a backslash before `,` `=` ` ` `"` or `\` is dropped. */
function unescape(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== BACKSLASH || i + 1 >= s.length) continue;
    const next = s.charCodeAt(i + 1);
    if (next === COMMA || next === EQUALS || next === SPACE || next === QUOTE || next === BACKSLASH) {
      out += s.slice(last, i);
      last = i + 1;
      i++;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

const METRIC_CHAR = /[^a-zA-Z0-9_:]/g;

/** The metric key of a field (see the mapping above). */
export function fieldKey(measurement: string, field: string): string {
  const raw = field === 'value' ? measurement : `${measurement}_${field}`;
  const clean = raw.replace(METRIC_CHAR, '_');
  return clean.charCodeAt(0) >= 48 && clean.charCodeAt(0) <= 57 ? '_' + clean : clean;
}


const MAX_INT64 = 9223372036854775807;
const MAX_UINT64 = 18446744073709551615;

/** A field value as a number, or undefined if it is not a valid non-string field value. */
function parseFieldValue(text: string, s: number, e: number): number | undefined {
  if (s >= e) return undefined;
  const fast = parseShortDecimal(text, s, e);
  if (fast !== undefined) return fast;
  const last = text.charCodeAt(e - 1);
  if (last === 105 /* i */ || last === 117 /* u */) {
    const digits = text.slice(s, e - 1);
    if (!/^-?\d+$/.test(digits)) return undefined;
    if (last === 117 && digits.charCodeAt(0) === 45) return undefined;
    const v = Number(digits);
    // Range check on the float is approximate at the boundary; a line at exactly 2^63 is off.
    if (last === 105 ? v > MAX_INT64 || v < -MAX_INT64 - 1 : v > MAX_UINT64) return undefined;
    return v;
  }
  const first = text.charCodeAt(s);
  if ((first >= 48 && first <= 57) || first === 45 || first === 46) {
    const str = text.slice(s, e);
    const v = Number(str);
    // Number() accepts forms the line protocol does not (hex, Infinity, blanks): require digits.
    if (!Number.isFinite(v) || !FLOAT.test(str)) return undefined;
    return v;
  }
  switch (text.slice(s, e)) {
    case 't':
    case 'T':
    case 'true':
    case 'True':
    case 'TRUE':
      return 1;
    case 'f':
    case 'F':
    case 'false':
    case 'False':
    case 'FALSE':
      return 0;
  }
  return undefined;
}

const FLOAT = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The common field value, `-?digits[.digits][i|u]` with at most 15 digits, without building a
 * string: digits and a power of ten below 2^53 are exact, so one division gives the correctly
 * rounded double (the fast path of every float parser). undefined means "use the full parser".
 */
function parseShortDecimal(text: string, s: number, e: number): number | undefined {
  let i = s;
  const neg = text.charCodeAt(i) === 45;
  if (neg) i++;
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let c = 0;
  for (; i < e; i++) {
    c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    mant = mant * 10 + c;
    digits++;
  }
  if (i < e && c === 46 - 48) {
    if (digits === 0) return undefined;
    for (i++; i < e; i++) {
      c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      mant = mant * 10 + c;
      digits++;
      scale++;
    }
  }
  if (digits === 0 || digits > 15) return undefined;
  if (i === e - 1 && scale === 0 && digits === i - s - (neg ? 1 : 0)) {
    // 12i and 12u (integers), but not 1.5i.
    const last = text.charCodeAt(i);
    if (last === 105 || (last === 117 && !neg)) return neg ? -mant : mant;
    return undefined;
  }
  if (i !== e) return undefined;
  const v = scale === 0 ? mant : mant / POW10[scale];
  return neg ? -v : v;
}

/** A timestamp in ms, or undefined if not an integer. Digits finer than ms are truncated. */
function parseTimestamp(text: string, s: number, e: number, p: Precision): number | undefined {
  // Trailing blanks are tolerated, anything else after the number is not.
  while (e > s && text.charCodeAt(e - 1) === SPACE) e--;
  let neg = false;
  if (text.charCodeAt(s) === 45) {
    neg = true;
    s++;
  }
  const len = e - s;
  if (len <= 0 || len > 19) return undefined;
  let v = 0;
  const keep = len - p.drop;
  for (let i = 0; i < len; i++) {
    const d = text.charCodeAt(s + i) - 48;
    if (d < 0 || d > 9) return undefined;
    if (i < keep) v = v * 10 + d;
  }
  v *= p.factor;
  return neg ? -v : v;
}
