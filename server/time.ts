/**
 * The one time parser and the one duration parser (issue 17), as Prometheus and Alertmanager
 * take them: timestamps as unix seconds (float) or RFC 3339; durations as Prometheus durations
 * (`1h30m`, `5m`, `250ms`) or, where an API allows it, seconds. The query API, alerting's rules,
 * silences and posted alerts, annotations, probes and the configuration all use these.
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

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION = /^((\d+)(ms|s|m|h|d|w|y))+$/;

/** Parse a PromQL duration (`1h30m`) to milliseconds; null if it is not one. */
export function parsePromDuration(text: string): number | null {
  if (!DURATION.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
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
