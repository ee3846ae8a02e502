/**
 * The SQL names of a window's aggregates in sql.ts' window form, and Prometheus' extrapolated
 * rate over them: what the function table's window forms (function-table.ts) are written in.
 */

/** How a window's aggregates are spelled in the SQL that computes its value. */
export interface WindowNames {
  /** Sample count, sum, min, max, population variance. */
  wn: string;
  wsm: string;
  wmn: string;
  wmx: string;
  wsv: string;
  /** The mean (avg_over_time only). */
  wmean: string;
  /** First and last sample: time (ms) and value. */
  wfts: string;
  wfv: string;
  wlts: string;
  wlv: string;
  /** The step's time (ms) and the range (ms). */
  t: string;
  range: string;
}

/** The column names sql.ts' windowRowsSql gives them. */
export const WINDOW_COLUMNS: WindowNames = {
  wn: 'wn',
  wsm: 'wsm',
  wmn: 'wmn',
  wmx: 'wmx',
  wsv: 'wsv',
  wmean: 'wmean',
  wfts: 'wfts',
  wfv: 'wfv',
  wlts: 'wlts',
  wlv: 'wlv',
  t: 't',
  range: 'wms',
};

/**
 * Prometheus' extrapolatedRate over a window's first/last sample, sample count and range
 * (promql/functions.go). Windows with a counter reset are flagged and never use this value.
 */
export function extrapolatedSql(w: WindowNames, counter: boolean, isRate: boolean): string {
  const result = `(${w.wlv} - ${w.wfv})`;
  const sampled = `((${w.wlts} - ${w.wfts}) / 1000)`;
  const gap = `(${sampled} / (${w.wn} - 1))`;
  const lo = `(${w.t} - ${w.range})`;
  const toZero = counter ? `if(${result} > 0 AND ${w.wfv} >= 0, ${sampled} * (${w.wfv} / ${result}), inf)` : 'inf';
  const toStart = `least(if((${w.wfts} - ${lo}) / 1000 >= ${gap} * 1.1, ${gap} / 2, (${w.wfts} - ${lo}) / 1000), ${toZero})`;
  const toEnd = `if((${w.t} - ${w.wlts}) / 1000 >= ${gap} * 1.1, ${gap} / 2, (${w.t} - ${w.wlts}) / 1000)`;
  return `if(${w.wn} < 2, NULL, ${result} * ((${sampled} + ${toStart} + ${toEnd}) / ${sampled}${isRate ? ` / (${w.range} / 1000)` : ''}))`;
}
