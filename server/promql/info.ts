/**
 * Prometheus 3's info(v [, {label selector}]): adds to each series of v the data labels of the
 * info series (target_info by default, or those the selector's __name__ picks) that share its
 * identifying labels (instance, job), as Prometheus' promql/info.go. The evaluator fetches the
 * info series (eval.ts); this module decides which ones are wanted and joins them step by step.
 */
import { compileRegex } from '../regex.js';
import type { Expr, VectorSelector } from './ast.js';
import { allocSeries, labelsKey, labelsString, type StepSeries } from './matrix.js';
import type { Matcher } from './selector.js';
import { ExecError, type Labels } from './types.js';
import type { Meter } from './budget.js';

/** The labels an info series and a data series are matched on. */
const IDENTIFYING_LABELS = ['instance', 'job'];

function matches(m: Matcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return compileRegex(m.value, 'prometheus').test(value);
    case '!~':
      return !compileRegex(m.value, 'prometheus').test(value);
  }
}

/** The __name__ matchers that pick the info series: as given with a positive one, else within `.+_info`, else target_info. */
function effectiveNameMatchers(ms: Matcher[]): Matcher[] {
  if (ms.some((m) => m.op === '=' || m.op === '=~')) return ms;
  if (ms.length) return [{ name: '__name__', op: '=~', value: '.+_info' }, ...ms];
  return [{ name: '__name__', op: '=', value: 'target_info' }];
}

/** RE2's QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export interface InfoPlan {
  /** Data series that are info series themselves: passed through unchanged. */
  ignored: Set<StepSeries>;
  /** Matchers of the info series to fetch; null when no data series has an identifying label. */
  select: Matcher[] | null;
  /** The data-label matchers by label name (without __name__); empty: every label is wanted. */
  dataMatchers: Map<string, Matcher[]>;
}

/** What info() needs to fetch, from its data series and optional label selector. */
export function planInfo(base: StepSeries[], selector: VectorSelector | null): InfoPlan {
  const all = selector?.matchers ?? [];
  const nameMatchers = selector ? all.filter((m) => m.name === '__name__') : [{ name: '__name__', op: '=', value: 'target_info' } as Matcher];
  const effective = effectiveNameMatchers(nameMatchers);
  const ignored = new Set(base.filter((s) => effective.every((m) => matches(m, s.labels.__name__ ?? ''))));
  const dataMatchers = new Map<string, Matcher[]>();
  for (const m of all) {
    if (m.name === '__name__') continue;
    dataMatchers.set(m.name, [...(dataMatchers.get(m.name) ?? []), m]);
  }
  const values = new Map<string, Set<string>>();
  for (const s of base) {
    if (ignored.has(s)) continue;
    for (const l of IDENTIFYING_LABELS) {
      const v = s.labels[l];
      if (!v) continue;
      if (!values.has(l)) values.set(l, new Set());
      values.get(l)!.add(v);
    }
  }
  if (values.size === 0) return { ignored, select: null, dataMatchers };
  const select: Matcher[] = [...values].map(([name, vs]) => ({ name, op: '=~', value: [...vs].map(quoteMeta).join('|') }));
  select.push(...all.filter((m) => m.name !== '__name__'), ...effectiveNameMatchers(all.filter((m) => m.name === '__name__')));
  return { ignored, select, dataMatchers };
}

/** An info series' identity: its name and identifying labels. */
function signature(name: string, labels: Labels): string {
  const out: Labels = { __name__: name };
  for (const l of IDENTIFYING_LABELS) if (labels[l]) out[l] = labels[l];
  return labelsKey(out);
}

/**
 * Join step by step: `info` holds the info series with, as value, the time (s) of the sample
 * the step picked (the newest wins where two share a signature, as in Prometheus).
 */
export async function combineInfo(base: StepSeries[], info: StepSeries[], plan: InfoPlan, n: number, meter: Meter): Promise<StepSeries[]> {
  const names = [...new Set(info.map((s) => s.labels.__name__ ?? ''))];
  const infoSigs = info.map((s) => signature(s.labels.__name__ ?? '', s.labels));
  const baseSigs = base.map((s) => names.map((name) => [name, signature(name, s.labels)] as const));
  const emptyOk = [...plan.dataMatchers.values()].every((ms) => ms.every((m) => matches(m, '')));
  const out = new Map<string, StepSeries>();
  const order: StepSeries[] = [];
  const put = (labels: Labels, v: number, i: number) => {
    const key = labelsKey(labels);
    let r = out.get(key);
    if (!r) {
      out.set(key, (r = allocSeries(labels, n, meter)));
      order.push(r);
    }
    if (r.has[i]) throw new ExecError('vector cannot contain metrics with the same labelset');
    r.v[i] = v;
    r.has[i] = 1;
  };
  for (let i = 0; i < n; i++) {
    if (meter.tick(base.length + info.length)) await meter.pause();
    const bySig = new Map<string, StepSeries>();
    info.forEach((s, k) => {
      if (!s.has[i]) return;
      const old = bySig.get(infoSigs[k]);
      if (old && old.v[i] === s.v[i]) {
        throw new ExecError(
          `found duplicate series for info metric: existing ${labelsString(old.labels)} @ ${old.v[i] * 1000}, new ${labelsString(s.labels)} @ ${s.v[i] * 1000}`,
        );
      }
      if (!old || old.v[i] < s.v[i]) bySig.set(infoSigs[k], s);
    });
    base.forEach((b, k) => {
      if (!b.has[i]) return;
      if (plan.ignored.has(b)) return put(b.labels, b.v[i], i);
      const add: Labels = {};
      let matched = 0;
      for (const [, sig] of baseSigs[k]) {
        const s = bySig.get(sig);
        if (!s) continue;
        matched++;
        for (const [l, v] of Object.entries(s.labels)) {
          if (l === '__name__') continue;
          if (plan.dataMatchers.size && !plan.dataMatchers.has(l)) continue;
          if (add[l] !== undefined && add[l] !== v) throw new ExecError(`conflicting label: ${l}`);
          if (b.labels[l] !== undefined) continue;
          add[l] = v;
        }
      }
      if (matched === 0 && !emptyOk) return;
      put({ ...b.labels, ...add }, b.v[i], i);
    });
  }
  return order;
}

/**
 * The @ time and offset that govern when the info series are read: those of the first selector
 * in the data argument, or of the nearest enclosing subquery with an @ (offsets add up).
 */
export function infoTimeOf(e: Expr): { at: VectorSelector['at']; offset: number } | null {
  const walk = (x: Expr, subqueries: Extract<Expr, { kind: 'subquery' }>[]): { at: VectorSelector['at']; offset: number } | null => {
    switch (x.kind) {
      case 'vector': {
        let at = x.at;
        let offset = x.offset;
        for (let i = subqueries.length - 1; at === null && i >= 0; i--) {
          offset += subqueries[i].offset;
          at = subqueries[i].at;
        }
        return { at, offset };
      }
      case 'matrix':
        return walk(x.vector, subqueries);
      case 'subquery':
        return walk(x.expr, [...subqueries, x]);
      case 'call':
        for (const a of x.args) {
          const r = walk(a, subqueries);
          if (r) return r;
        }
        return null;
      case 'aggregate':
        return walk(x.expr, subqueries) || (x.param && walk(x.param, subqueries));
      case 'binary':
        return walk(x.lhs, subqueries) || walk(x.rhs, subqueries);
      case 'unary':
      case 'paren':
        return walk(x.expr, subqueries);
      default:
        return null;
    }
  };
  return walk(e, []);
}
