import { describe, expect, it } from 'vitest';
import type { Expr } from './ast.js';
import { checkExpr, parseExpr } from './parse.js';
import { PromQLError } from './types.js';

/** A compact rendering of the AST that shows structure (for precedence tests). */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return String(e.value);
    case 'string':
      return JSON.stringify(e.value);
    case 'vector': {
      let s = e.name ?? `{${e.matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
      if (e.offset) s += ` offset ${e.offset}`;
      if (e.at) s += ` @ ${typeof e.at === 'string' ? e.at : e.at.time}`;
      return s;
    }
    case 'matrix':
      return `${show(e.vector)}[${e.range}]`;
    case 'subquery':
      return `(${show(e.expr)})[${e.range}:${e.step}]${e.offset ? ` offset ${e.offset}` : ''}${e.at ? ` @ ${typeof e.at === 'string' ? e.at : e.at.time}` : ''}`;
    case 'call':
      return `${e.func}(${e.args.map(show).join(', ')})`;
    case 'aggregate':
      return `${e.op}${e.grouping.length || e.without ? ` ${e.without ? 'without' : 'by'}(${e.grouping.join(',')})` : ''}(${e.param ? `${show(e.param)}, ` : ''}${show(e.expr)})`;
    case 'binary':
      return `(${show(e.lhs)} ${e.op}${e.bool ? ' bool' : ''} ${show(e.rhs)})`;
    case 'unary':
      return `(${e.op}${show(e.expr)})`;
    case 'paren':
      return show(e.expr);
  }
}

function parseError(q: string): PromQLError {
  try {
    parseExpr(q);
  } catch (e) {
    if (e instanceof PromQLError) return e;
    throw e;
  }
  throw new Error(`expected ${q} to fail`);
}

describe('parseExpr', () => {
  it('applies Prometheus operator precedence and associativity', () => {
    expect(show(parseExpr('1 + 2 * 3'))).toBe('(1 + (2 * 3))');
    expect(show(parseExpr('a - b - c'))).toBe('((a - b) - c)');
    expect(show(parseExpr('2 ^ 3 ^ 2'))).toBe('(2 ^ (3 ^ 2))');
    expect(show(parseExpr('a or b and c'))).toBe('(a or (b and c))');
    expect(show(parseExpr('a > b + c'))).toBe('(a > (b + c))');
    expect(show(parseExpr('a unless b or c'))).toBe('((a unless b) or c)');
  });

  it('reads -2 ^ 2 as -(2 ^ 2), as Go lexes the sign separately', () => {
    expect(show(parseExpr('-2 ^ 2'))).toBe('(-(2 ^ 2))');
    expect(show(parseExpr('-x ^ 2'))).toBe('(-(x ^ 2))');
  });

  it('binds offset and @ to the nearest selector, not to a whole binary expression', () => {
    expect(show(parseExpr('a + b offset 5m'))).toBe('(a + b offset 300000)');
    expect(show(parseExpr('a and b @ 100'))).toBe('(a and b @ 100000)');
    expect(show(parseExpr('-x offset 1m'))).toBe('(-x offset 60000)');
    expect(show(parseExpr('rate(x[5m] offset 1m @ 100)'))).toBe('rate(x offset 60000 @ 100000[300000])');
    expect(show(parseExpr('x[5m:1m] offset 2m @ end()'))).toBe('(x)[300000:60000] offset 120000 @ end');
  });

  it('reads numbers in every PromQL spelling', () => {
    expect((parseExpr('0x1F') as { value: number }).value).toBe(31);
    expect((parseExpr('1e3') as { value: number }).value).toBe(1000);
    expect((parseExpr('Inf') as { value: number }).value).toBe(Infinity);
    expect((parseExpr('-inf') as { value: number }).value).toBe(-Infinity);
    expect(Number.isNaN((parseExpr('NaN') as { value: number }).value)).toBe(true);
    // A duration used as a number is seconds.
    expect((parseExpr('5m') as { value: number }).value).toBe(300);
  });

  it('reads durations, including compound and arithmetic ones', () => {
    expect(show(parseExpr('x[1h30m]'))).toBe('x[5400000]');
    expect(show(parseExpr('x[1m+30s]'))).toBe('x[90000]');
    expect(show(parseExpr('x[90]'))).toBe('x[90000]');
  });

  it('reads label matchers, quoted names and string escapes', () => {
    expect(show(parseExpr('{__name__="a", b!="c", d=~"e.*", f!~"g"}'))).toBe('a');
    expect(show(parseExpr('x{a="\\n\\u00e9"}'))).toBe('x');
    const e = parseExpr('{"my.metric", "label.x"="v"}');
    expect(e.kind === 'vector' && e.matchers).toEqual([
      { name: '__name__', op: '=', value: 'my.metric' },
      { name: 'label.x', op: '=', value: 'v' },
    ]);
  });

  it('reads aggregation modifiers before or after the arguments', () => {
    expect(show(parseExpr('sum by (a, b) (x)'))).toBe('sum by(a,b)(x)');
    expect(show(parseExpr('sum(x) without (a)'))).toBe('sum without(a)(x)');
    expect(show(parseExpr('topk(3, x)'))).toBe('topk(3, x)');
    expect(show(parseExpr('count_values("v", x)'))).toBe('count_values("v", x)');
  });

  it('reads vector matching', () => {
    const e = parseExpr('a * on(x, y) group_left(z) b');
    expect(e.kind === 'binary' && e.matching).toEqual({ card: 'many-to-one', on: true, labels: ['x', 'y'], include: ['z'] });
    const s = parseExpr('a and ignoring(x) b');
    expect(s.kind === 'binary' && s.matching).toEqual({ card: 'many-to-many', on: false, labels: ['x'], include: [] });
    const r = parseExpr('a / ignoring(x) group_right b');
    expect(r.kind === 'binary' && r.matching.card).toBe('one-to-many');
  });

  it('reports a syntax error with its position', () => {
    const e = parseError('sum(rate(x[5m])');
    expect(e.code).toBe('MTR_QUERY_PARSE');
    expect(e.position).toBe(15);
    expect(parseError('x{a="b"').position).toBe(7);
  });

  it('reports an unknown function by name', () => {
    const e = parseError('1 + nosuch(x)');
    expect(e.message).toContain('unknown function with name "nosuch"');
    expect(e.position).toBe(4);
  });

  it('checks argument counts and types', () => {
    expect(parseError('rate(x)').message).toContain('expected type range vector in call to function "rate", got instant vector');
    expect(parseError('abs(x[5m])').message).toContain('expected type instant vector');
    expect(parseError('clamp(x, 1)').message).toContain('expected 3 argument(s) in call to "clamp", got 2');
    expect(parseError('round(x, 1, 2)').message).toContain('expected at most 2 argument(s)');
    expect(parseError('label_join(x, "a")').message).toContain('expected at least 3 argument(s)');
    expect(parseError('topk(x, x)').message).toContain('expected type scalar in aggregation parameter');
    expect(parseError('histogram_quantile(0.9, x[5m])').position).toBe(24);
  });

  it('rejects what Prometheus rejects about operators', () => {
    expect(parseError('1 > 2').message).toContain('comparisons between scalars must use BOOL modifier');
    expect(parseError('x and 1').message).toContain('set operator "and" not allowed in binary scalar expression');
    expect(parseError('x + bool y').message).toContain('bool modifier can only be used on comparison operators');
    expect(parseError('x + on(a) 1').message).toContain('vector matching only allowed between instant vectors');
    expect(parseError('x and on(a) group_left y').message).toContain('no grouping allowed for "and" operation');
    expect(parseError('x * on(a) group_left(a) y').message).toContain('label "a" must not occur in ON and GROUP clause at once');
    expect(parseError('x[5m] + 1').message).toContain('binary expression must contain only scalar and instant vector types');
  });

  it('rejects selectors that could match everything, and bad modifiers', () => {
    expect(parseError('{a=""}').message).toContain('vector selector must contain at least one non-empty matcher');
    expect(parseError('{a=~".*"}').message).toContain('at least one non-empty matcher');
    expect(parseError('sum(x) offset 5m').message).toContain('offset modifier must be preceded by an instant vector selector');
    expect(parseError('x offset 1m offset 2m').message).toContain('offset may not be set multiple times');
    expect(parseError('rate(x[5m])[10m]').message).toContain('ranges only allowed for vector selectors');
    expect(parseError('x[5m][10m:1m]').message).toContain('subquery is only allowed on instant vector, got range vector');
    expect(parseError('x{a=~"("}').message).toContain('invalid regular expression');
    expect(parseError('x{a="b}').message).toMatch(/unterminated|unexpected/);
  });

  it('reads regexes with RE2 syntax: Prometheus-valid patterns pass, others fail at the matcher with Go\'s message', () => {
    for (const re of ['(?P<n>x)', '(?i:PRO)', '[[:alpha:]]+', '\\\\pL+', '(?s).*']) expect(() => parseExpr(`x{a=~"${re}"}`), re).not.toThrow();
    const e = parseError('up{job="a", path=~"(?=x)"}');
    expect(e.position).toBe(12);
    expect(e.message).toBe('parse error at position 12: invalid regular expression in label matcher path=~"(?=x)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
    expect(parseError('{"a.b"!~"a**"}').position).toBe(1);
    // A literal label_replace regex is checked at parse too, at the literal.
    const q = 'label_replace(up, "d", "$1", "s", "(a")';
    expect(parseError(q)).toMatchObject({ position: q.indexOf('"(a"') });
    expect(parseError(q).message).toContain('invalid regular expression in label_replace(): "(a": error parsing regexp: missing closing ): `(a`');
    expect(() => parseExpr('label_replace(up, "d", "$1", "s", ("(?P<n>a)"))')).not.toThrow();
    expect(parseError('label_replace(up, "d", "$1", "s", ("(?<=a)"))').message).toContain('invalid regular expression in label_replace()');
  });

  it('refuses native-histogram functions with a clear message', () => {
    expect(parseError('histogram_count(x)').message).toContain('not supported');
  });

  it('offers a non-throwing check for rule editors', () => {
    expect(checkExpr('rate(x[5m]) > 1')).toBeNull();
    expect(checkExpr('rate(x[5m]')).toMatchObject({ position: 10 });
  });
});

describe('keywords and grouping as Prometheus reads them', () => {
  it('reads aggregation operators and modifiers in any letter case', () => {
    expect(show(parseExpr('SUM BY (job) (rate(x[5m]))'))).toBe(show(parseExpr('sum by (job) (rate(x[5m]))')));
    expect(show(parseExpr('Avg WITHOUT (i) (x)'))).toBe('avg without(i)(x)');
    expect(show(parseExpr('TopK(3, x)'))).toBe('topk(3, x)');
    expect(show(parseExpr('a > BOOL 2'))).toBe('(a > bool 2)');
    expect(show(parseExpr('a AND b OR c UNLESS d'))).toBe(show(parseExpr('a and b or c unless d')));
    expect(show(parseExpr('x OFFSET 10m'))).toBe('x offset 600000');
    const e = parseExpr('a * On (k) Group_Left (j) b');
    expect(e.kind === 'binary' && e.matching).toEqual({ card: 'many-to-one', on: true, labels: ['k'], include: ['j'] });
  });

  it('treats a range selector in parentheses as the range selector', () => {
    expect(show(parseExpr('resets((errors_total[10m]))'))).toBe('resets(errors_total[600000])');
    expect(show(parseExpr('max_over_time(((load[3m:30s])))'))).toBe('max_over_time((load)[180000:30000])');
  });

  it('binds an operator after an @ on the right of a matched binary to that operand, as Go does', () => {
    expect(show(parseExpr('a @ 30 + on(k) group_left(j) b @ 30 * 0'))).toBe('(a @ 30000 + (b @ 30000 * 0))');
    expect(show(parseExpr('a + b offset 1m / 2'))).toBe('(a + (b offset 60000 / 2))');
    expect(show(parseExpr('a * b @ 5 + 1'))).toBe('((a * b @ 5000) + 1)');
  });
});

describe('number literals', () => {
  it('reads a number with a trailing point, as Go does', () => {
    expect(show(parseExpr('3.'))).toBe('3');
    expect(show(parseExpr('1./4. * x'))).toBe('((1 / 4) * x)');
    const sel = parseExpr('x{a="1."}');
    expect(sel.kind === 'vector' && sel.matchers.find((m) => m.name === 'a')?.value).toBe('1.');
  });
});

describe("Prometheus 3's experimental syntax", () => {
  it('folds duration arithmetic and keeps step()/range() durations for the query', () => {
    expect(show(parseExpr('x[2m * (10 + 5)]'))).toBe('x[1800000]');
    expect(show(parseExpr('x offset -(1m + 30s)'))).toBe('x offset -90000');
    const m = parseExpr('rate(x[STEP() + 1ms])') as Extract<Expr, { kind: 'call' }>;
    const sel = m.args[0] as Extract<Expr, { kind: 'matrix' }>;
    expect(sel.rangeExpr).toMatchObject({ op: '+', args: [{ op: 'step' }, { op: 'literal', value: 0.001 }] });
  });

  it('reads step(), range(), start(), end(), min_of() and max_of() as functions outside durations, in any case', () => {
    expect(show(parseExpr('Start() + END() - min_of(1, max_of(2, Range()))'))).toBe('((start() + end()) - min_of(1, max_of(2, range())))');
    const b = parseExpr('x offset min_of(step(), 1s) + min_of(1, 2)') as Extract<Expr, { kind: 'binary' }>;
    expect(show(b)).toBe('(x + min_of(1, 2))');
    expect((b.lhs as Extract<Expr, { kind: 'vector' }>).offsetExpr).toMatchObject({ op: 'min_of', args: [{ op: 'step' }, { op: 'literal', value: 1 }] });
    expect(show(parseExpr('x @ start()'))).toBe('x @ start');
  });

  it('marks anchored and smoothed selectors and refuses them on subqueries', () => {
    const a = parseExpr('increase(x[1m] anchored)') as Extract<Expr, { kind: 'call' }>;
    expect((a.args[0] as Extract<Expr, { kind: 'matrix' }>).vector.anchored).toBe(true);
    expect((parseExpr('x smoothed') as Extract<Expr, { kind: 'vector' }>).smoothed).toBe(true);
    expect(() => parseExpr('rate(x[5m:1m] anchored)')).toThrow(/anchored modifier is not supported for subqueries/);
  });

  it('reads fill modifiers onto the matching and refuses them on set operators', () => {
    const b = parseExpr('a + on(x) fill_left(1) fill_right(2) b') as Extract<Expr, { kind: 'binary' }>;
    expect(b.matching.fill).toEqual({ lhs: 1, rhs: 2 });
    expect((parseExpr('a * fill(NaN) b') as Extract<Expr, { kind: 'binary' }>).matching.fill).toEqual({ lhs: NaN, rhs: NaN });
    expect(() => parseExpr('a and fill(0) b')).toThrow(/fill modifiers are not allowed/);
  });

  it('accepts an info() label selector that matches the empty string', () => {
    expect(show(parseExpr('info(x, {data=~".*"})'))).toBe('info(x, {data=~".*"})');
  });

  it('refuses each feature that is turned off, naming it', () => {
    const none = new Set<never>();
    for (const [q, feature] of [
      ['x[1m + 1m]', 'duration_expr'],
      ['rate(x[1m] anchored)', 'extended_range_selectors'],
      ['a + fill(0) b', 'binop_fill_modifiers'],
      ['info(x)', 'experimental_functions'],
      ['step()', 'experimental_functions'],
    ]) {
      expect(() => parseExpr(q, none)).toThrow(new RegExp(`not enabled \\(PROMQL_EXPERIMENTAL: ${feature}\\)`));
    }
    // Plain durations and negative offsets are not experimental.
    expect(show(parseExpr('x[5m] offset -1h', none))).toBe('x offset -3600000[300000]');
  });
});

describe('PROMQL_EXPERIMENTAL', () => {
  it('turns every feature on by default, none with `none`, and refuses an unknown one naming those known', async () => {
    const { loadConfig } = await import('../config.js');
    expect(loadConfig({}).PROMQL_EXPERIMENTAL).toEqual(['duration_expr', 'extended_range_selectors', 'binop_fill_modifiers', 'experimental_functions']);
    expect(loadConfig({ PROMQL_EXPERIMENTAL: 'none' }).PROMQL_EXPERIMENTAL).toEqual([]);
    expect(loadConfig({ PROMQL_EXPERIMENTAL: 'duration_expr, binop_fill_modifiers' }).PROMQL_EXPERIMENTAL).toEqual(['duration_expr', 'binop_fill_modifiers']);
    expect(() => loadConfig({ PROMQL_EXPERIMENTAL: 'fill' })).toThrow(/invalid PROMQL_EXPERIMENTAL="fill": unknown feature "fill"; known: duration_expr, extended_range_selectors/);
  });
});
