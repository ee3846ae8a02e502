/**
 * label_replace and label_join. A label value may grow at every level ("$1$1" doubles it), so
 * each new label set is charged to the query's budget before it is built, and no value may
 * exceed MAX_QUERY_LABEL_BYTES (EvalContext.maxLabelBytes).
 */
import { LABEL_NAME } from '../../ingest/names.js';
import { MetronomeError } from '../errors.js';
import { compileRegex, type Regex } from '../regex.js';
import type { Call } from './ast.js';
import { COST, labelsBytes } from './budget.js';
import { stringArg } from './calls.js';
import type { Evaluator } from './call.js';
import { mergeSameLabels, type EvalValue, type Grid, type StepSeries } from './matrix.js';
import { ExecError } from './types.js';

/** label_replace and label_join say it without the label set, as Prometheus does. */
const sameLabelset = () => new ExecError('vector cannot contain metrics with the same labelset');

/** label_replace: 17 levels over 32 series used to exhaust the heap before values were charged (MAX_QUERY_BYTES). */
export async function labelReplace(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const input = await ev.vector(e.args[0], g);
  const [dst, replacement, src, regex] = e.args.slice(1).map(stringArg);
  let re: Regex;
  try {
    re = compileRegex(regex, 'prometheus');
  } catch (err) {
    throw new ExecError(`invalid regular expression in label_replace(): ${regex}`);
  }
  if (!LABEL_NAME.test(dst)) throw new ExecError(`invalid destination label name in label_replace(): ${dst}`);
  const out: StepSeries[] = [];
  for (const s of input) {
    // Matching reads the source value, at about 1 µs a character (re2js).
    if (ev.m.tick(16 + 64 * (s.labels[src] ?? '').length)) await ev.m.pause();
    const m = re.exec(s.labels[src] ?? '');
    if (!m) {
      out.push(s);
      continue;
    }
    const value = re.expand(replacement, m);
    checkLabel(ev, 'label_replace', value);
    ev.m.hold(0, COST.series + labelsBytes(s.labels) + COST.char * value.length);
    const labels = { ...s.labels };
    if (value === '') delete labels[dst];
    else labels[dst] = value;
    out.push({ ...s, labels });
  }
  return { type: 'vector', series: await mergeSameLabels(out, sameLabelset, ev.m) };
}

/** label_join: the joined value is charged before it is built. */
export async function labelJoin(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const input = await ev.vector(e.args[0], g);
  const [dst, sep, ...srcs] = e.args.slice(1).map(stringArg);
  if (!LABEL_NAME.test(dst)) throw new ExecError(`invalid destination label name in label_join(): ${dst}`);
  const out: StepSeries[] = [];
  for (const s of input) {
    let length = sep.length * Math.max(0, srcs.length - 1);
    for (const l of srcs) length += (s.labels[l] ?? '').length;
    if (ev.m.tick(16 + (length >> 2))) await ev.m.pause();
    if (length > ev.ctx.maxLabelBytes) checkLabel(ev, 'label_join', { length });
    ev.m.hold(0, COST.series + labelsBytes(s.labels) + COST.char * length);
    const value = srcs.map((l) => s.labels[l] ?? '').join(sep);
    checkLabel(ev, 'label_join', value);
    const labels = { ...s.labels };
    if (value === '') delete labels[dst];
    else labels[dst] = value;
    out.push({ ...s, labels });
  }
  return { type: 'vector', series: await mergeSameLabels(out, sameLabelset, ev.m) };
}

/** Refuse a label value longer than MAX_QUERY_LABEL_BYTES (a character count above it needs no encoding). */
function checkLabel(ev: Evaluator, fn: string, value: string | { length: number }): void {
  const max = ev.ctx.maxLabelBytes;
  if (value.length > max || (typeof value === 'string' && value.length * 3 > max && Buffer.byteLength(value) > max)) {
    throw new MetronomeError('MTR_QUERY_LABEL_TOO_LONG', [fn, max]);
  }
}
