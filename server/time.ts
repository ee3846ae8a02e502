/**
 * The one time parser and the one duration parser (issue 17), as Prometheus and Alertmanager
 * take them: timestamps as unix seconds (float) or RFC 3339; durations as Prometheus durations
 * (`1h30m`, `5m`, `250ms`), where a format allows it "0" or seconds, or in a dialect's own units
 * (DurationSyntax: Heroic's). The query API, PromQL, alerting's rules, silences, posted alerts and
 * receivers, annotations, probes, Heroic's aggregations and the configuration all use these.
 */

/** A request parameter that does not parse: `param` names it, `reason` says what is wrong with it. */
export class ParamError extends Error {
  override name = 'ParamError';
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(`invalid parameter "${param}": ${reason}`);
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parse a timestamp (unix seconds, as a number or text, or RFC 3339) to unix milliseconds. */
export function parseTime(value: string | number, param = 'time'): number {
  if (typeof value === 'number') {
    const ms = Math.round(value * 1000);
    if (Number.isFinite(ms)) return ms;
    throw new ParamError(param, `cannot parse ${value} to a valid timestamp (unix seconds or RFC 3339)`);
  }
  const v = value.trim();
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
    const ms = Math.round(Number(v) * 1000);
    if (Number.isFinite(ms)) return ms;
  }
  if (RFC3339.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return ms;
  }
  throw new ParamError(param, `cannot parse ${JSON.stringify(value)} to a valid timestamp (unix seconds or RFC 3339)`);
}

/** Milliseconds per unit of a Prometheus duration; a dialect that adds units spreads these. */
export const PROM_DURATION_UNITS: Readonly<Record<string, number>> = Object.freeze({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 });

/**
 * How a dialect writes a duration as text: `<digits><unit>` terms with these units (names of
 * letters, each mapped to its ms),
 * joined (`1h30m`) when `compound`, and a bare number read in `bareUnitMs` when that is given.
 * Prometheus' is the one parsePromDuration uses; a dialect with other units (Heroic's `1H`, `1M`)
 * builds its own from PROM_DURATION_UNITS and parses through the same code.
 */
export class DurationSyntax {
  readonly #units: Readonly<Record<string, number>>;
  readonly #bareUnitMs: number | undefined;
  readonly #whole: RegExp;
  readonly #term: RegExp;

  constructor(units: Readonly<Record<string, number>>, opts: { compound: boolean; bareUnitMs?: number }) {
    this.#units = units;
    this.#bareUnitMs = opts.bareUnitMs;
    // Longest names first, so `ms` is not read as `m` followed by junk.
    const names = Object.keys(units)
      .sort((a, b) => b.length - a.length)
      .join('|');
    this.#whole = new RegExp(opts.compound ? `^(?:\\d+(?:${names}))+$` : `^\\d+(?:${names})$`);
    this.#term = new RegExp(`(\\d+)(${names})`, 'g');
  }

  /** The duration in milliseconds; null if `text` is not one in this syntax. */
  parse(text: string): number | null {
    if (this.#bareUnitMs !== undefined && /^\d+$/.test(text)) return Number(text) * this.#bareUnitMs;
    if (!this.#whole.test(text)) return null;
    let ms = 0;
    for (const m of text.matchAll(this.#term)) ms += Number(m[1]) * this.#units[m[2]];
    return ms;
  }
}

const PROM_DURATION = new DurationSyntax(PROM_DURATION_UNITS, { compound: true });

/**
 * Parse a Prometheus duration (`1h30m`) to milliseconds; null if it is not one. `zero` also
 * takes "0", as Prometheus' model.ParseDuration does where rule files, the Alertmanager
 * configuration and our settings use it (PromQL itself has no zero duration).
 */
export function parsePromDuration(text: string, opts: { zero?: boolean } = {}): number | null {
  if (opts.zero && text === '0') return 0;
  return PROM_DURATION.parse(text);
}

/** Parse a duration parameter (PromQL duration or float seconds) to milliseconds. */
export function parseDuration(value: string, param = 'step'): number {
  const v = value.trim();
  const d = parsePromDuration(v);
  if (d !== null) return d;
  if (/^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
    const ms = Math.round(Number(v) * 1000);
    if (Number.isFinite(ms)) return ms;
  }
  throw new ParamError(param, `cannot parse ${JSON.stringify(value)} to a valid duration`);
}
