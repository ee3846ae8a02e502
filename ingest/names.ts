/**
 * Names in Prometheus' data model, one rule each (issue 17): what a label name and a metric
 * name may be, the label-set and matcher types every module shares, and how each write protocol
 * whose names are freer (Influx tags, OTLP attributes) turns its names into label names. Lives
 * in ingest/ because the decoders need it and ingest/ may not import server/.
 */

/** A label name: what `by (...)`, label_replace's destination, rule and alert labels may be. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A metric name (`__name__`): a label name that may also hold colons (recording rules). */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A label set: name -> value. */
export type Labels = Record<string, string>;

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher (`name op "value"`), in selectors, silences, inhibition and routes. */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

const NOT_LABEL_CHAR = /[^a-zA-Z0-9_]/g;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * An Influx tag key as a label name, the rule Telegraf's Prometheus outputs use: characters
 * outside [a-zA-Z0-9_] become `_`, and a leading digit gets a `_` prefix (`host.name` ->
 * `host_name`, `9a` -> `_9a`).
 */
export function influxLabelName(key: string): string {
  const clean = key.replace(NOT_LABEL_CHAR, '_');
  return isDigit(clean.charCodeAt(0)) ? `_${clean}` : clean;
}

/**
 * An OTLP attribute key as a label name, as Prometheus' OTLP translator names it: characters
 * outside [a-zA-Z0-9_] become `_`, runs of `_` collapse, and a leading digit gets `key_`
 * (`service.name` -> `service_name`, `2xx` -> `key_2xx`); a key that is nothing but separators
 * has no name ('').
 */
export function otlpLabelName(key: string): string {
  let s = key.replace(NOT_LABEL_CHAR, '_').replace(/__+/g, '_');
  if (s === '_' || s === '') return '';
  if (isDigit(s.charCodeAt(0))) s = `key_${s}`;
  return s;
}
