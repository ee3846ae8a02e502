/**
 * Alertmanager's time intervals (`time_intervals`, and the older `mute_time_intervals`): named
 * lists of recurring windows, each given by times of day, weekdays, days of the month (negative
 * from the month's end), months and years, in a location. A route's `mute_time_intervals`
 * silence its notifications while one is active; its `active_time_intervals` let them through
 * only while one is. Semantics of Alertmanager's timeinterval package: every given field must
 * match; times are [start, end) in minutes of the day; ranges are inclusive.
 */
interface TimeRange {
  startMinute: number;
  endMinute: number;
}

export interface TimeInterval {
  times: TimeRange[];
  /** Inclusive ranges; weekdays 0 = Sunday. */
  weekdays: [number, number][];
  daysOfMonth: [number, number][];
  months: [number, number][];
  years: [number, number][];
  location: string;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

type Err = (path: (string | number)[], message: string) => void;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function ranges(v: unknown, path: (string | number)[], err: Err, parse: (s: string) => number | null, lo: number, hi: number, what: string): [number, number][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    err(path, `must be a list of ${what}s or ranges like a:b`);
    return [];
  }
  const out: [number, number][] = [];
  v.forEach((item, i) => {
    const s = String(item).trim().toLowerCase();
    const parts = s.split(':');
    const a = parse(parts[0]);
    const b = parts.length === 2 ? parse(parts[1]) : parts.length === 1 ? a : null;
    if (a === null || b === null || a < lo || a > hi || b < lo || b > hi) return err([...path, i], `invalid ${what} ${JSON.stringify(item)}`);
    if (what !== 'day of month' && a > b) return err([...path, i], `start of ${what} range ${JSON.stringify(item)} is after its end`);
    if (what === 'day of month' && Math.sign(a) === Math.sign(b) && a > b) return err([...path, i], `start of day range ${JSON.stringify(item)} is after its end`);
    if (what === 'day of month' && (a === 0 || b === 0)) return err([...path, i], 'days of the month run from 1 to 31 or -31 to -1');
    out.push([a, b]);
  });
  return out;
}

const intOrNull = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : null);
const named = (names: string[], base: number) => (s: string) => {
  const i = names.indexOf(s);
  if (i >= 0) return i + base;
  return intOrNull(s);
};

function minuteOf(s: unknown): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(String(s));
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

function validLocation(loc: string): boolean {
  if (loc === 'Local' || loc === 'UTC') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: loc });
    return true;
  } catch {
    return false;
  }
}

/** Parse one named interval's `time_intervals` list. */
export function parseTimeIntervals(v: unknown, path: (string | number)[], err: Err): TimeInterval[] {
  if (!Array.isArray(v)) {
    err(path, 'must be a list of intervals (times, weekdays, days_of_month, months, years, location)');
    return [];
  }
  return v.map((raw, i) => {
    const p = [...path, i];
    const ti: TimeInterval = { times: [], weekdays: [], daysOfMonth: [], months: [], years: [], location: 'UTC' };
    if (!isObj(raw)) {
      err(p, 'must be a mapping');
      return ti;
    }
    for (const k of Object.keys(raw)) if (!['times', 'weekdays', 'days_of_month', 'months', 'years', 'location'].includes(k)) err([...p, k], `unknown field "${k}"`);
    if (raw.times !== undefined) {
      if (!Array.isArray(raw.times)) err([...p, 'times'], 'must be a list of {start_time, end_time}');
      else
        raw.times.forEach((t, j) => {
          const a = isObj(t) ? minuteOf(t.start_time) : null;
          const b = isObj(t) ? minuteOf(t.end_time) : null;
          if (a === null || b === null || a >= 24 * 60) return err([...p, 'times', j], 'needs start_time and end_time as HH:MM (00:00 to 24:00)');
          if (a >= b) return err([...p, 'times', j], 'start_time must be before end_time');
          ti.times.push({ startMinute: a, endMinute: b });
        });
    }
    ti.weekdays = ranges(raw.weekdays, [...p, 'weekdays'], err, named(WEEKDAYS, 0), 0, 6, 'weekday');
    ti.daysOfMonth = ranges(raw.days_of_month, [...p, 'days_of_month'], err, intOrNull, -31, 31, 'day of month');
    ti.months = ranges(raw.months, [...p, 'months'], err, named(MONTHS, 1), 1, 12, 'month');
    ti.years = ranges(raw.years, [...p, 'years'], err, intOrNull, 1, 9999, 'year');
    if (raw.location !== undefined) {
      const loc = String(raw.location);
      if (!validLocation(loc)) err([...p, 'location'], `unknown location ${JSON.stringify(loc)} (use an IANA name like Europe/Paris)`);
      else ti.location = loc;
    }
    return ti;
  });
}

/** Calendar fields of an instant in a location. */
function fieldsAt(ms: number, location: string) {
  const tz = location === 'Local' ? undefined : location;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'long' }).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return {
    year: Number(get('year')),
    month: Number(get('month')),
    day: Number(get('day')),
    minute: Number(get('hour')) * 60 + Number(get('minute')),
    weekday: WEEKDAYS.indexOf(get('weekday').toLowerCase()),
  };
}

const inRanges = (x: number, rs: [number, number][]) => rs.length === 0 || rs.some(([a, b]) => a <= x && x <= b);

/** Whether one interval contains the instant. */
export function intervalContains(ti: TimeInterval, ms: number): boolean {
  const f = fieldsAt(ms, ti.location);
  if (ti.times.length && !ti.times.some((r) => r.startMinute <= f.minute && f.minute < r.endMinute)) return false;
  if (!inRanges(f.weekday, ti.weekdays)) return false;
  if (ti.daysOfMonth.length) {
    const daysInMonth = new Date(Date.UTC(f.year, f.month, 0)).getUTCDate();
    const abs = (d: number) => (d < 0 ? daysInMonth + d + 1 : d);
    if (!ti.daysOfMonth.some(([a, b]) => abs(a) <= f.day && f.day <= Math.min(abs(b), daysInMonth))) return false;
  }
  if (!inRanges(f.month, ti.months)) return false;
  if (!inRanges(f.year, ti.years)) return false;
  return true;
}

/** Whether any interval of a named list contains the instant. */
export function anyContains(list: readonly TimeInterval[], ms: number): boolean {
  return list.some((ti) => intervalContains(ti, ms));
}
