/**
 * Plays Prometheus' PromQL acceptance files (`promql/promqltest/testdata/*.test` of the
 * prometheus repository, kept verbatim in ./testdata) against a real Metronome: data by remote
 * write at the files' epoch-0 times, every case through /api/v1/query and /api/v1/query_range,
 * judged as the files' own runner judges (compare.ts). Used by the CLI (test/promql-suite.ts,
 * counts per file and per failure cause) and by test/promql-suite.test.ts (no regression below
 * the recorded outcome, expected.json). Issue 18.
 *
 * Not played: cases over native histograms (Metronome stores floats only): a case whose
 * expected answer holds one, that calls a native-histogram function, or one of whose selectors
 * can select a native histogram the block loads (every file's float-only cases elsewhere are
 * played, since without the histograms those selectors read what Prometheus reads); and data
 * with start timestamps (`@st`, remote write 2.0). Also not done: the extra evaluation times the
 * Go runner adds by rewriting an instant case with `@` on every selector.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeWriteRequest, promLabels } from '../../bench/wire.js';
import { startTestServer, tempDir, type TestServer } from '../helpers.js';
import { compareAnnotations, compareFailure, compareMatrix, compareVector, parseValue, type PromData } from './compare.js';
import { parseScript, STALE_NAN, type EvalCmd, type Labels, type LoadCmd } from './script.js';
import type { Expr } from '../../server/promql/ast.js';
import { parseExpr } from '../../server/promql/parse.js';
import type { Matcher } from '../../server/promql/selector.js';
import { compileRegex } from '../../server/regex.js';

/** Where the suite's files are kept. */
export const TESTDATA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

const ENV = {
  // Data sits at 1970: keep it inside retention and the rollups' TTL.
  RETENTION_DAYS: '40000',
  ROLLUP_1M_DAYS: '40000',
  ROLLUP_1H_DAYS: '40000',
  QUERY_CACHE_BYTES: '0',
};

let template: string | undefined;

/**
 * A server on an empty store. The files start one per `clear` (about 170), and the schema
 * migrations are most of a start: the first server's migrated data directory is kept as a
 * template and copied for the next ones, which then start in about half the time (10 starts
 * each way, interleaved, on the shared 2-core machine: 2.9-3.4 s instead of 5.8-7.2 s at a load
 * average of 26).
 */
async function freshServer(): Promise<TestServer> {
  if (!template) {
    const dir = tempDir('metronome-promql-suite-');
    await (await startTestServer({ ...ENV, DATA_DIR: dir })).close();
    template = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const dir = tempDir();
  cpSync(template, dir, { recursive: true });
  return startTestServer({ ...ENV, DATA_DIR: dir });
}

const AGG_AND_KEYWORDS = /\b(sum|avg|count|min|max|group|stddev|stdvar|topk|bottomk|quantile|count_values|limitk|limit_ratio|by|without|on|ignoring|group_left|group_right|bool|offset|and|or|unless|atan2)\b/gi;

/** Why a case is not played, or undefined when it is. */
function skipReason(cmd: EvalCmd, state: BlockState): string | undefined {
  const e = cmd.expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  if (cmd.series.some((s) => s.histogram)) return 'native histograms';
  if (/\bhistogram_(count|sum|avg|stddev|stdvar)\s*\(/.test(e)) return 'native histograms';
  if (state.histograms.length && readsHistograms(cmd.expr, state.histograms)) return 'native histograms';
  if (state.startTimestamps) return 'start timestamps (remote write 2.0)';
  return undefined;
}

/**
 * Whether a selector of the expression can select one of the block's native histograms (the
 * runner does not load them, so that selector would read less than Prometheus reads). An
 * expression Metronome cannot parse counts as reading them unless it names no metric at all.
 */
function readsHistograms(expr: string, histograms: readonly Labels[]): boolean {
  let tree: Expr;
  try {
    tree = parseExpr(expr);
  } catch {
    return true;
  }
  const matches = (m: Matcher, labels: Labels) => {
    const v = labels[m.name] ?? '';
    if (m.op === '=') return v === m.value;
    if (m.op === '!=') return v !== m.value;
    const re = compileRegex(m.value, 'prometheus').test(v);
    return m.op === '=~' ? re : !re;
  };
  const walk = (x: Expr): boolean => {
    switch (x.kind) {
      case 'vector':
        return histograms.some((h) => x.matchers.every((m) => matches(m, h)));
      case 'matrix':
        return walk(x.vector);
      case 'subquery':
      case 'paren':
      case 'unary':
        return walk(x.expr);
      case 'aggregate':
        return walk(x.expr) || (x.param !== null && walk(x.param));
      case 'binary':
        return walk(x.lhs) || walk(x.rhs);
      case 'call':
        // info() also reads target_info-style series it is not given a selector for.
        return x.args.some(walk) || (x.func === 'info' && histograms.some((h) => /_info$/.test(h.__name__ ?? '')));
      default:
        return false;
    }
  };
  return walk(tree);
}

/** The cause a failed case is counted under (issue 18's list), from what the case uses. */
function failureCause(cmd: EvalCmd, state: BlockState, reason: string, annotationsOnly: boolean): string {
  const e = cmd.expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  if ([...e.matchAll(AGG_AND_KEYWORDS)].some((m) => m[0] !== m[0].toLowerCase())) return 'case-insensitive keywords';
  if (/\bhistogram_(fraction|quantiles)\s*\(/.test(e)) return 'histogram_fraction/histogram_quantiles';
  if (annotationsOnly) return 'warnings and infos';
  if (/__type__|__unit__/.test(cmd.expr + JSON.stringify(cmd.series.map((s) => s.labels)) + reason)) return '__type__/__unit__ name dropping';
  // Prometheus' runner keeps names until the end (delayed name removal); Metronome drops them at once.
  if (/__name__/.test(e) || /same labelset/.test(reason) || (/\bignoring\b/.test(e) && /unexpected series/.test(reason))) return 'delayed name removal';
  if (/\b(sum|avg)(_over_time)?\s*\(/.test(e) && /^expected /.test(reason)) return 'sum/avg computed in ClickHouse (not compensated)';
  if (/\bchanges\s*\(/.test(e) && state.nonFinite) return 'changes() over NaN in ClickHouse';
  if (state.nonFinite) return 'NaN/Inf';
  if (/\(\s*[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?\[[^\]]+\]\s*\)/.test(e) && /\(\(/.test(e)) return 'parenthesised range selector';
  if (/\b(topk|bottomk)\b/.test(e) && /position/.test(reason)) return 'topk/bottomk order';
  if (/Parameter value is NaN|Ratio value is NaN/.test(reason)) return 'NaN parameter';
  if (/\(\?[a-zA-Z]+[:)]/.test(cmd.expr)) return 'regex inline flags';
  if (/(sum|avg)(_over_time)?\s*\(/.test(e) && /expected -?[\d.e+]+ .*got/.test(reason)) return 'float precision';
  return 'other';
}

interface BlockState {
  nhcb: boolean;
  startTimestamps: boolean;
  nonFinite: boolean;
  /** The label sets of the native histograms the block loads (not sent to Metronome). */
  histograms: Labels[];
}

const freshState = (): BlockState => ({ nhcb: false, startTimestamps: false, nonFinite: false, histograms: [] });

export interface Outcome {
  file: string;
  line: number;
  expr: string;
  status: 'pass' | 'fail' | 'skip';
  cause: string;
  reason?: string;
}

/** What a load block tells about the block, before (or without) sending it. */
function note(cmd: LoadCmd, state: BlockState): void {
  state.nhcb ||= cmd.nhcb;
  state.startTimestamps ||= cmd.startTimestamps;
  for (const s of cmd.series) {
    // load_with_nhcb also loads classic buckets as a native histogram named without the suffix.
    if (cmd.nhcb && s.labels.__name__ && /_(bucket|count|sum)$/.test(s.labels.__name__)) {
      const { le: _le, ...rest } = s.labels;
      state.histograms.push({ ...rest, __name__: s.labels.__name__.replace(/_(bucket|count|sum)$/, '') });
    }
    if (s.histogram) state.histograms.push(s.labels);
    else if (s.values.some((v) => v.kind === 'value' && !Number.isFinite(v.v))) state.nonFinite = true;
  }
}

/** Send a load block's float series by remote write: one request per chunk of samples. */
async function load(srv: TestServer, cmd: LoadCmd): Promise<void> {
  const timeseries: unknown[] = [];
  let samples = 0;
  const flush = async () => {
    if (!timeseries.length) return;
    const res = await fetch(`${srv.url}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body: new Uint8Array(encodeWriteRequest({ timeseries })),
    });
    if (res.status >= 300) throw new Error(`remote write answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    timeseries.length = 0;
    samples = 0;
  };
  for (const s of cmd.series) {
    if (s.histogram) continue;
    const { __name__: name = '', ...tags } = s.labels;
    const out: { value: number; timestamp: number }[] = [];
    s.values.forEach((v, i) => {
      if (v.kind === 'omitted') return;
      out.push({ value: v.kind === 'stale' ? STALE_NAN : v.v, timestamp: i * cmd.intervalMs });
    });
    if (!out.length) continue;
    timeseries.push({ labels: name ? promLabels(name, tags) : promLabels('', tags).filter((l) => l.name !== '__name__'), samples: out });
    samples += out.length;
    if (samples > 20_000) await flush();
  }
  await flush();
}

async function api(srv: TestServer, path: string, params: Record<string, string>) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const body = (await res.json()) as { status: string; data?: PromData; error?: string; warnings?: string[]; infos?: string[] };
  return { status: res.status, body };
}

const sec = (ms: number) => String(ms / 1000);

/** Judge one result body against the case; null when it matches. */
function judge(cmd: EvalCmd, data: PromData, grid: { start: number; end: number; step: number }): string | null {
  switch (data.resultType) {
    case 'vector':
      return compareVector(
        cmd,
        (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({ metric: s.metric, value: parseValue(s.value[1]) })),
      );
    case 'matrix':
      return compareMatrix(cmd, data.result, grid);
    case 'scalar': {
      if (cmd.scalar === undefined) return `expected a vector or matrix, got scalar ${data.result[1]}`;
      const v = parseValue(data.result[1]);
      return compareVector({ ...cmd, scalar: undefined, series: [{ labels: {}, values: [{ kind: 'value', v: cmd.scalar }], pos: 1, histogram: false }] }, [{ metric: {}, value: v }]);
    }
    case 'string':
      return cmd.expectString === data.result[1] ? null : `expected string ${JSON.stringify(cmd.expectString)}, got ${JSON.stringify(data.result[1])}`;
  }
}

/** Run one eval case as the Go runner does: the query, then (instant cases) the same as a range query around it. */
async function runEval(srv: TestServer, cmd: EvalCmd): Promise<{ ok: boolean; reason?: string; annotationsOnly?: boolean }> {
  const instant = cmd.instant;
  const evalTime = cmd.rangeVector ? cmd.rangeVector.end : cmd.time;
  const grid = cmd.rangeVector ?? { start: cmd.start, end: cmd.end, step: cmd.step };
  const r = instant
    ? await api(srv, '/api/v1/query', { query: cmd.expr, time: sec(evalTime) })
    : await api(srv, '/api/v1/query_range', { query: cmd.expr, start: sec(cmd.start), end: sec(cmd.end), step: sec(cmd.step) });
  if (r.body.status !== 'success') {
    if (cmd.fail) {
      const why = compareFailure(cmd, r.body.error ?? '');
      return why ? { ok: false, reason: why } : { ok: true };
    }
    return { ok: false, reason: `error ${r.status}: ${r.body.error}` };
  }
  if (cmd.fail) return { ok: false, reason: 'expected an error, got a result' };
  const valueWhy = judge(cmd, r.body.data!, grid);
  const annoWhy = compareAnnotations(cmd, r.body.warnings ?? [], r.body.infos ?? []);
  if (annoWhy) return { ok: false, reason: valueWhy ?? annoWhy, annotationsOnly: !valueWhy };
  if (valueWhy) return { ok: false, reason: valueWhy };
  if (!instant || cmd.noRangeCheck || /\b(start|end|range|step)\(\)/.test(cmd.expr)) return { ok: true };
  const rr = await api(srv, '/api/v1/query_range', { query: cmd.expr, start: sec(evalTime - 60_000), end: sec(evalTime + 60_000), step: '60' });
  if (rr.body.status !== 'success') return { ok: false, reason: `range mode: error ${rr.status}: ${rr.body.error}` };
  if (cmd.ordered) return { ok: true };
  const mat = rr.body.data!.result as { metric: Record<string, string>; values: [number, string][] }[];
  const at = mat.flatMap((s) => s.values.filter(([t]) => Math.round(t * 1000) === evalTime).map(([, v]) => ({ metric: s.metric, value: parseValue(v) })));
  const why =
    cmd.scalar !== undefined
      ? at.length
        ? compareVector({ ...cmd, scalar: undefined, series: [{ labels: {}, values: [{ kind: 'value', v: cmd.scalar }], pos: 1, histogram: false }] }, [{ metric: {}, value: at[0].value }])
        : 'range mode: no point at the evaluation time'
      : compareVector(cmd, at);
  return why ? { ok: false, reason: `range mode: ${why}` } : { ok: true };
}

/**
 * Play one file, a fresh server per `clear` block; every eval case gives one outcome. A block's
 * data is sent when its first played case comes, so a block none of whose cases is played (most
 * of native_histograms.test) starts no server.
 */
export async function runFile(dir: string, file: string): Promise<Outcome[]> {
  const cmds = parseScript(readFileSync(join(dir, file), 'utf8'));
  const out: Outcome[] = [];
  let srv: TestServer | undefined;
  let state = freshState();
  let pending: LoadCmd[] = [];
  try {
    for (const cmd of cmds) {
      if (cmd.kind === 'clear') {
        await srv?.destroy();
        srv = undefined;
        state = freshState();
        pending = [];
        continue;
      }
      if (cmd.kind === 'load') {
        note(cmd, state);
        pending.push(cmd);
        continue;
      }
      const base = { file, line: cmd.line, expr: cmd.expr };
      const skip = skipReason(cmd, state);
      if (skip) {
        out.push({ ...base, status: 'skip', cause: skip });
        continue;
      }
      srv ??= await freshServer();
      for (const l of pending) await load(srv, l);
      pending = [];
      let res: Awaited<ReturnType<typeof runEval>>;
      try {
        res = await runEval(srv, cmd);
      } catch (e) {
        res = { ok: false, reason: `runner: ${(e as Error).message}` };
      }
      out.push(
        res.ok
          ? { ...base, status: 'pass', cause: '' }
          : { ...base, status: 'fail', cause: failureCause(cmd, state, res.reason ?? '', !!res.annotationsOnly), reason: res.reason },
      );
    }
  } finally {
    await srv?.destroy();
  }
  return out;
}


/** What a run of the whole suite is expected to give (expected.json), keyed `file:line`. */
export interface Recorded {
  /** The prometheus commit the files come from. */
  source: string;
  /** How many cases pass. */
  passed: number;
  /** Cases that fail today, with their expression: any other failure is a regression. */
  failing: Record<string, string>;
  /** Cases not played, counted by reason. */
  skipped: Record<string, number>;
}

export const RECORD_PATH = join(dirname(fileURLToPath(import.meta.url)), 'expected.json');

export const caseKey = (o: Outcome) => `${o.file}:${o.line}`;

/** The record a set of outcomes makes (written by the CLI with PROMQL_SUITE_RECORD=1). */
export function record(source: string, outcomes: Outcome[]): Recorded {
  const failing: Record<string, string> = {};
  const skipped: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.status === 'fail') failing[caseKey(o)] = o.expr;
    if (o.status === 'skip') skipped[o.cause] = (skipped[o.cause] ?? 0) + 1;
  }
  const passed = outcomes.filter((o) => o.status === 'pass').length;
  return { source, passed, failing, skipped: Object.fromEntries(Object.entries(skipped).sort()) };
}
