/**
 * Binary operators over step matrices: arithmetic, comparisons (filtering, or 0/1 with
 * `bool`), and/or/unless, with Prometheus' vector matching (on/ignoring, group_left/right).
 */
import { COMPARISON_OPS, type BinaryOp, type VectorMatching } from './ast.js';
import type { Meter } from './budget.js';
import { allocSeries, labelsKey, labelsString, mergeSameLabels, withoutName, type StepSeries } from './matrix.js';
import { ExecError, type Labels } from './types.js';

/** Go's math.Pow where it differs from JS (1^NaN, (-1)^±Inf). */
function pow(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && !Number.isFinite(b) && !Number.isNaN(b)) return 1;
  return a ** b;
}

/** One element operation: the value and whether a comparison keeps it. */
function elemOp(op: BinaryOp, a: number, b: number): [number, boolean] {
  switch (op) {
    case '+':
      return [a + b, true];
    case '-':
      return [a - b, true];
    case '*':
      return [a * b, true];
    case '/':
      return [a / b, true];
    case '%':
      return [a % b, true];
    case '^':
      return [pow(a, b), true];
    case 'atan2':
      return [Math.atan2(a, b), true];
    case '==':
      return [a, a === b];
    case '!=':
      return [a, a !== b];
    case '>':
      return [a, a > b];
    case '<':
      return [a, a < b];
    case '>=':
      return [a, a >= b];
    case '<=':
      return [a, a <= b];
    default:
      throw new ExecError(`operator ${op} is not defined between these operands`);
  }
}

/** Arithmetic drops the metric name; so does a comparison with `bool`. */
function dropsName(op: BinaryOp, bool: boolean): boolean {
  return !COMPARISON_OPS.has(op) || bool;
}

export function scalarScalar(op: BinaryOp, a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const [v, keep] = elemOp(op, a[i], b[i]);
    out[i] = COMPARISON_OPS.has(op) ? (keep ? 1 : 0) : v;
  }
  return out;
}

/** vector op scalar, or scalar op vector when `scalarLeft`. */
export async function vectorScalar(op: BinaryOp, vec: StepSeries[], s: Float64Array, scalarLeft: boolean, bool: boolean, m: Meter): Promise<StepSeries[]> {
  const cmp = COMPARISON_OPS.has(op);
  const out: StepSeries[] = [];
  for (const x of vec) {
    if (m.tick(s.length)) await m.pause();
    const labels = dropsName(op, bool) ? withoutName(x.labels) : x.labels;
    const r = allocSeries(labels, s.length, m);
    let any = false;
    for (let i = 0; i < s.length; i++) {
      if (!x.has[i]) continue;
      const [v, keep] = scalarLeft ? elemOp(op, s[i], x.v[i]) : elemOp(op, x.v[i], s[i]);
      if (bool) r.v[i] = keep ? 1 : 0;
      else if (!keep) continue;
      // A comparison keeps the vector's value even when the scalar is on the left.
      else r.v[i] = cmp ? x.v[i] : v;
      r.has[i] = 1;
      any = true;
    }
    if (any) out.push(r);
  }
  return mergeSameLabels(out, (l) => new ExecError(`vector cannot contain metrics with the same labelset ${labelsString(l)}`), m);
}

/** The metric name and what describes it (Prometheus 3's type-and-unit labels): never compared. */
const NAME_LABELS = new Set(['__name__', '__type__', '__unit__']);

/** The labels vector matching compares. */
function signature(labels: Labels, m: VectorMatching): string {
  const out: Labels = {};
  if (m.on) {
    for (const k of m.labels) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k];
  } else {
    for (const k in labels) if (!NAME_LABELS.has(k) && !m.labels.includes(k)) out[k] = labels[k];
  }
  return labelsKey(out);
}

function sigLabels(labels: Labels, m: VectorMatching): Labels {
  const out: Labels = {};
  if (m.on) {
    for (const k of m.labels) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k];
  } else {
    for (const k in labels) if (!NAME_LABELS.has(k) && !m.labels.includes(k)) out[k] = labels[k];
  }
  return out;
}

async function bySignature(series: StepSeries[], m: VectorMatching, meter: Meter): Promise<Map<string, StepSeries[]>> {
  const groups = new Map<string, StepSeries[]>();
  for (const s of series) {
    if (meter.tick(16)) await meter.pause();
    const k = signature(s.labels, m);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return groups;
}

function presentAt(group: StepSeries[] | undefined, i: number): boolean {
  if (!group) return false;
  for (const s of group) if (s.has[i]) return true;
  return false;
}

/** Prometheus' resultMetric: the labels of one matched pair. */
function resultLabels(many: Labels, one: Labels, op: BinaryOp, m: VectorMatching, bool: boolean): Labels {
  let out: Labels = dropsName(op, bool) ? withoutName(many) : { ...many };
  if (m.card === 'one-to-one') {
    if (m.on) {
      const kept: Labels = {};
      for (const k of m.labels) if (out[k] !== undefined) kept[k] = out[k];
      out = kept;
    } else {
      out = { ...out };
      for (const k of m.labels) delete out[k];
    }
  }
  if (m.include.length) {
    out = { ...out };
    for (const k of m.include) {
      if (one[k] !== undefined && one[k] !== '') out[k] = one[k];
      else delete out[k];
    }
  }
  return out;
}

/**
 * vector op vector. With a fill modifier (Prometheus 3), an element whose match is missing at a
 * step meets a stand-in of the fill value, labelled with the element's matching labels:
 * `fill.rhs` stands in for the "one" side, `fill.lhs` for the "many" side (left and right as
 * written, the sides swapped for group_right, as Prometheus' VectorBinop does).
 */
export async function vectorVector(
  op: BinaryOp,
  lhs: StepSeries[],
  rhs: StepSeries[],
  m: VectorMatching,
  bool: boolean,
  n: number,
  meter: Meter,
): Promise<StepSeries[]> {
  if (op === 'and' || op === 'unless' || op === 'or') return setOp(op, lhs, rhs, m, n, meter);
  const swap = m.card === 'one-to-many';
  const many = swap ? rhs : lhs;
  const one = swap ? lhs : rhs;
  const fillOne = m.fill?.rhs;
  const fillMany = m.fill?.lhs;
  const oneGroups = await bySignature(one, m, meter);
  const manyGroups = await bySignature(many, m, meter);
  const out = new Map<string, StepSeries>();
  const order: StepSeries[] = [];
  const pairLabels = new Map<Labels, Map<Labels, { key: string; labels: Labels }>>();
  // The stand-in's labels, one object per series it stands in for.
  const standIns = new Map<StepSeries, Labels>();
  const standIn = (s: StepSeries) => {
    let l = standIns.get(s);
    if (!l) standIns.set(s, (l = sigLabels(s.labels, m)));
    return l;
  };
  const emit = async (manyLabels: Labels, oneLabels: Labels, manyV: number, oneV: number, i: number) => {
    const [v, keep] = swap ? elemOp(op, oneV, manyV) : elemOp(op, manyV, oneV);
    let value = v;
    if (bool) value = keep ? 1 : 0;
    else if (!keep) return;
    let byOne = pairLabels.get(manyLabels);
    if (!byOne) pairLabels.set(manyLabels, (byOne = new Map()));
    let rl = byOne.get(oneLabels);
    if (!rl) {
      const labels = resultLabels(manyLabels, oneLabels, op, m, bool);
      rl = { key: labelsKey(labels), labels };
      byOne.set(oneLabels, rl);
    }
    let r = out.get(rl.key);
    if (!r) {
      out.set(rl.key, (r = allocSeries(rl.labels, n, meter)));
      order.push(r);
      if (meter.tick(n)) await meter.pause();
    }
    if (r.has[i]) {
      throw new ExecError(
        m.card === 'one-to-one'
          ? 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)'
          : 'multiple matches for labels: grouping labels must ensure unique matches',
      );
    }
    r.v[i] = value;
    r.has[i] = 1;
  };
  const sigs = fillMany === undefined ? manyGroups.keys() : new Set([...manyGroups.keys(), ...oneGroups.keys()]);
  for (const sig of sigs) {
    const manyList = manyGroups.get(sig) ?? [];
    const oneList = oneGroups.get(sig);
    if (!oneList && fillOne === undefined) continue;
    for (let i = 0; i < n; i++) {
      if (meter.tick((oneList?.length ?? 0) + manyList.length)) await meter.pause();
      let o: StepSeries | null = null;
      for (const s of oneList ?? []) {
        if (!s.has[i]) continue;
        if (o) {
          throw new ExecError(
            `found duplicate series for the match group ${labelsString(sigLabels(s.labels, m))} on the ${swap ? 'left' : 'right'} hand-side of the operation: [${labelsString(o.labels)}, ${labelsString(s.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
          );
        }
        o = s;
      }
      if (!o && fillOne === undefined) continue;
      let matched = 0;
      for (const s of manyList) {
        if (!s.has[i]) continue;
        if (o && m.card === 'one-to-one' && ++matched > 1) {
          throw new ExecError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        }
        matched = Math.max(matched, 1);
        if (o) await emit(s.labels, o.labels, s.v[i], o.v[i], i);
        else await emit(s.labels, standIn(s), s.v[i], fillOne!, i);
      }
      if (o && matched === 0 && fillMany !== undefined) await emit(standIn(o), o.labels, fillMany, o.v[i], i);
    }
  }
  return order;
}

async function setOp(op: 'and' | 'or' | 'unless', lhs: StepSeries[], rhs: StepSeries[], m: VectorMatching, n: number, meter: Meter): Promise<StepSeries[]> {
  if (op === 'or') {
    const lhsGroups = await bySignature(lhs, m, meter);
    const extra: StepSeries[] = [];
    for (const s of rhs) {
      if (meter.tick(n)) await meter.pause();
      const g = lhsGroups.get(signature(s.labels, m));
      const r = allocSeries(s.labels, n, meter);
      let any = false;
      for (let i = 0; i < n; i++) {
        if (!s.has[i] || presentAt(g, i)) continue;
        r.v[i] = s.v[i];
        r.has[i] = 1;
        any = true;
      }
      if (any) extra.push(r);
    }
    const copy: StepSeries[] = [];
    for (const s of lhs) {
      if (meter.tick(n)) await meter.pause();
      const c = allocSeries(s.labels, n, meter);
      c.v.set(s.v);
      c.has.set(s.has);
      copy.push(c);
    }
    return mergeSameLabels([...copy, ...extra], (l) => new ExecError(`vector cannot contain metrics with the same labelset ${labelsString(l)}`), meter);
  }
  const rhsGroups = await bySignature(rhs, m, meter);
  const out: StepSeries[] = [];
  for (const s of lhs) {
    if (meter.tick(n)) await meter.pause();
    const g = rhsGroups.get(signature(s.labels, m));
    const r = allocSeries(s.labels, n, meter);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (!s.has[i]) continue;
      const matched = presentAt(g, i);
      if (op === 'and' ? !matched : matched) continue;
      r.v[i] = s.v[i];
      r.has[i] = 1;
      any = true;
    }
    if (any) out.push(r);
  }
  return out;
}
