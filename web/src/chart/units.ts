/**
 * Value formatting by unit, for axes, legends and stat panels. The unit names are the ones the
 * dashboard generator writes into panels (server/services/generator.ts).
 */

export type Unit =
  | 'short'
  | 'reqps'
  | 'ops'
  | 'percentunit'
  | 'percent'
  | 'seconds'
  | 'milliseconds'
  | 'bytes'
  | 'bytesps'
  | 'cores';

const SI: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];
const IEC: [number, string][] = [
  [1024 ** 4, 'TiB'],
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** A number with at most `digits` significant digits and no trailing zeros. */
export function trimNumber(v: number, digits = 3): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 10 ** digits) return String(Math.round(v));
  const s = v.toPrecision(digits);
  if (s.includes('e')) return String(Number(s));
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function si(v: number, suffix: string, digits: number): string {
  const abs = Math.abs(v);
  for (const [f, p] of SI) if (abs >= f) return `${trimNumber(v / f, digits)}${p}${suffix}`;
  return `${trimNumber(v, digits)}${suffix}`;
}

function bytes(v: number, digits: number): string {
  const abs = Math.abs(v);
  for (const [f, p] of IEC) if (abs >= f) return `${trimNumber(v / f, digits)} ${p}`;
  return `${trimNumber(v, digits)} B`;
}

function duration(sec: number, digits: number): string {
  const abs = Math.abs(sec);
  if (abs === 0) return '0 s';
  if (abs < 1e-6) return `${trimNumber(sec * 1e9, digits)} ns`;
  if (abs < 1e-3) return `${trimNumber(sec * 1e6, digits)} µs`;
  if (abs < 1) return `${trimNumber(sec * 1e3, digits)} ms`;
  if (abs < 60) return `${trimNumber(sec, digits)} s`;
  if (abs < 3600) return `${trimNumber(sec / 60, digits)} min`;
  if (abs < 86400) return `${trimNumber(sec / 3600, digits)} h`;
  return `${trimNumber(sec / 86400, digits)} d`;
}

/** Format a value for display; null (no data) shows as an em dash. */
export function formatValue(v: number | null | undefined, unit: Unit | string = 'short', digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  switch (unit) {
    case 'reqps':
      return si(v, ' req/s', digits);
    case 'ops':
      return si(v, '/s', digits);
    case 'percentunit':
      return `${trimNumber(v * 100, digits)}%`;
    case 'percent':
      return `${trimNumber(v, digits)}%`;
    case 'seconds':
      return duration(v, digits);
    case 'milliseconds':
      return duration(v / 1000, digits);
    case 'bytes':
      return bytes(v, digits);
    case 'bytesps':
      return `${bytes(v, digits)}/s`;
    case 'cores':
      return `${trimNumber(v, digits)} cores`;
    default:
      return si(v, '', digits);
  }
}

/** A shorter form for axis ticks (fewer digits, same unit). */
export function formatTick(v: number, unit: Unit | string = 'short'): string {
  return formatValue(v, unit, 3);
}
