/**
 * How the acceptance files judge an answer: values equal within a relative error, NaN equal to
 * NaN, series matched by label set, order checked only where the case asks for it.
 */
import { RE2JS } from 're2js';
import type { EvalCmd, ExpectLine, Labels, SeqValue } from './script.js';

/** Relative error the acceptance files allow for sample values. */
const EPSILON = 1e-6;
const MIN_NORMAL = 2.2250738585072014e-308;

/** Equal within a relative epsilon; two NaNs are equal, NaN and a number are not. */
function almostEqual(a: number, b: number, eps = EPSILON): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  const diff = Math.abs(a - b);
  const absSum = Math.abs(a) + Math.abs(b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < eps * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < eps;
}

/** A label set as a stable key. */
function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** Label sets ordered as Prometheus orders them: name by name, then value, in sorted name order. */
function compareLabels(a: Labels, b: Labels): number {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    if (a[ka[i]] !== b[kb[i]]) return a[ka[i]] < b[kb[i]] ? -1 : 1;
  }
  return ka.length - kb.length;
}

export function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

const fmt = (l: Labels) => `{${Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(', ')}}`;

/** The answer's `data` as Prometheus JSON gives it. */
export interface PromData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: any;
}

/** Compare a vector (samples with labels) with the expected series; null when it matches. */
export function compareVector(cmd: EvalCmd, samples: { metric: Labels; value: number }[]): string | null {
  if (cmd.scalar !== undefined) return `expected scalar ${cmd.scalar}, got a vector of ${samples.length}`;
  const expected = new Map(cmd.series.map((s) => [labelKey(s.labels), s]));
  const seen = new Set<string>();
  for (let i = 0; i < samples.length; i++) {
    const { metric, value } = samples[i];
    const key = labelKey(metric);
    const exp = expected.get(key);
    if (!exp) return `unexpected series ${fmt(metric)} = ${value}`;
    if (cmd.ordered && exp.pos !== i + 1) return `series ${fmt(metric)} at position ${i + 1}, expected ${exp.pos}`;
    const e = exp.values[0];
    const ev = e?.kind === 'value' ? e.v : NaN;
    if (!almostEqual(ev, value)) return `expected ${ev} for ${fmt(metric)}, got ${value}`;
    seen.add(key);
  }
  for (const [key, s] of expected) if (!seen.has(key)) return `expected series ${fmt(s.labels)} not found`;
  return null;
}

/** Compare a matrix with the expected series placed on start, start + step, ... */
export function compareMatrix(
  cmd: EvalCmd,
  series: { metric: Labels; values: [number, string][] }[],
  grid: { start: number; end: number; step: number },
): string | null {
  if (cmd.scalar !== undefined) return `expected scalar ${cmd.scalar}, got a matrix`;
  if (cmd.ordered) return 'expected an ordered result, got a matrix';
  for (let i = 1; i < series.length; i++) {
    if (compareLabels(series[i - 1].metric, series[i].metric) > 0) return `matrix not sorted by labels at ${i}`;
  }
  const expected = new Map(cmd.series.map((s) => [labelKey(s.labels), s]));
  const seen = new Set<string>();
  for (const s of series) {
    const key = labelKey(s.metric);
    const exp = expected.get(key);
    if (!exp) return `unexpected series ${fmt(s.metric)} with ${s.values.length} points`;
    seen.add(key);
    const want: [number, number][] = [];
    for (let i = 0; i < exp.values.length; i++) {
      const t = grid.start + i * grid.step;
      if (t > grid.end) return `expected ${exp.values.length} points for ${fmt(exp.labels)}, more than the range holds`;
      const e: SeqValue = exp.values[i];
      if (e.kind === 'value') want.push([t, e.v]);
      else if (e.kind === 'stale') want.push([t, NaN]);
    }
    const got = s.values.map(([t, v]) => [Math.round(t * 1000), parseValue(v)] as [number, number]);
    if (want.length !== got.length) return `expected ${want.length} points for ${fmt(exp.labels)}, got ${got.length}: ${JSON.stringify(s.values.slice(0, 8))}`;
    for (let i = 0; i < want.length; i++) {
      if (want[i][0] !== got[i][0]) return `point ${i} of ${fmt(exp.labels)} at ${got[i][0]} ms, expected ${want[i][0]} ms`;
      if (!almostEqual(want[i][1], got[i][1])) return `point ${i} (t=${got[i][0]}) of ${fmt(exp.labels)} is ${got[i][1]}, expected ${want[i][1]}`;
    }
  }
  for (const [key, s] of expected) if (!seen.has(key)) return `expected series ${fmt(s.labels)} not found`;
  return null;
}

function matches(e: ExpectLine, text: string): boolean {
  if (e.msg !== undefined) return e.msg === text;
  if (e.regex !== undefined) return RE2JS.compile(e.regex).matcher(text).find();
  return true;
}

/** Check the answer's warnings and infos against the case's `eval_warn`/`eval_info` and `expect` lines. */
export function compareAnnotations(cmd: EvalCmd, warnings: string[], infos: string[]): string | null {
  if (cmd.warn && warnings.length === 0) return 'expected warnings, got none';
  if (cmd.info && infos.length === 0) return 'expected info annotations, got none';
  for (const [type, actual] of [
    ['warn', warnings],
    ['info', infos],
  ] as const) {
    const exp = cmd.expects.filter((e) => e.type === type);
    if (exp.length) {
      if (actual.length === 0) return `expected ${type} annotations, got none`;
      for (const e of exp) if (!actual.some((a) => matches(e, a))) return `no ${type} annotation matches ${e.msg ?? e.regex}; got ${JSON.stringify(actual)}`;
      for (const a of actual) if (!exp.some((e) => matches(e, a))) return `unexpected ${type} annotation ${JSON.stringify(a)}`;
    }
    if (cmd.expects.some((e) => e.type === `no_${type}`) && actual.length) return `unexpected ${type} annotations ${JSON.stringify(actual)}`;
  }
  return null;
}

/** Check an error message against the case's expected failure, if it names one. */
export function compareFailure(cmd: EvalCmd, message: string): string | null {
  if (cmd.failMessage !== undefined && cmd.failMessage !== message) return `expected error ${JSON.stringify(cmd.failMessage)}, got ${JSON.stringify(message)}`;
  if (cmd.failRegexp !== undefined && !RE2JS.compile(cmd.failRegexp).matcher(message).find()) {
    return `expected error matching ${cmd.failRegexp}, got ${JSON.stringify(message)}`;
  }
  const e = cmd.expects.find((x) => x.type === 'fail');
  if (e && !matches(e, message)) return `expected error matching ${e.msg ?? e.regex}, got ${JSON.stringify(message)}`;
  return null;
}
