import { describe, expect, it } from 'vitest';
import { HqlError, parseHqlFilter } from './heroic-hql.js';

describe('HQL filters', () => {
  it('parses the operators Heroic documents', () => {
    expect(parseHqlFilter('a = a')).toEqual(['=', 'a', 'a']);
    expect(parseHqlFilter('a in [a, b]')).toEqual(['or', ['=', 'a', 'a'], ['=', 'a', 'b']]);
    expect(parseHqlFilter('a = a and b = b')).toEqual(['and', ['=', 'a', 'a'], ['=', 'b', 'b']]);
    expect(parseHqlFilter('a ~ "b.*"')).toEqual(['~', 'a', 'b.*']);
    expect(parseHqlFilter('a != a')).toEqual(['not', ['=', 'a', 'a']]);
    expect(parseHqlFilter('!(a = a)')).toEqual(['not', ['=', 'a', 'a']]);
    expect(parseHqlFilter('a ^ a')).toEqual(['^', 'a', 'a']);
    expect(parseHqlFilter('a !^ a')).toEqual(['not', ['^', 'a', 'a']]);
    expect(parseHqlFilter('+a')).toEqual(['+', 'a']);
    expect(parseHqlFilter('$key = a')).toEqual(['key', 'a']);
    expect(parseHqlFilter('true')).toEqual(['true']);
    expect(parseHqlFilter('a not in [x]')).toEqual(['not', ['or', ['=', 'a', 'x']]]);
  });

  it('binds or tighter than and, as the grammar lists them', () => {
    expect(parseHqlFilter('a = 1 and b = 2 or c = 3')).toEqual(['and', ['=', 'a', '1'], ['or', ['=', 'b', '2'], ['=', 'c', '3']]]);
    expect(parseHqlFilter('(a = 1 and b = 2) or c = 3')).toEqual(['or', ['and', ['=', 'a', '1'], ['=', 'b', '2']], ['=', 'c', '3']]);
  });

  it('reads quoted strings with escapes and unquoted dotted names', () => {
    expect(parseHqlFilter('key = cpu.usage-total and host = "a \\"b\\"\\u0041"')).toEqual(['and', ['key', 'cpu.usage-total'], ['=', 'host', 'a "b"A']]);
    expect(parseHqlFilter("site = 'lon' # a comment")).toEqual(['=', 'site', 'lon']);
  });

  it('reports the position of a problem', () => {
    const cases: [string, number][] = [
      ['host = ', 7],
      ['host "a"', 5],
      ['host = "a', 7],
      ['(a = b', 6],
      ['a = b c', 6],
      ['a = b; drop', 5],
    ];
    for (const [text, pos] of cases) {
      let err: unknown;
      try {
        parseHqlFilter(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(HqlError);
      expect((err as HqlError).position, text).toBe(pos);
    }
  });
});
