import { describe, expect, it } from 'vitest';
import { compileRegex, regexProblem, RegexError } from './regex.js';

const full = (re: string, s: string) => compileRegex(re, 'prometheus').test(s);

describe('RE2 syntax', () => {
  it('accepts what Prometheus accepts and JavaScript does not: (?P<name>), inline flags, POSIX classes, \\pL, \\Q..\\E', () => {
    expect(compileRegex('(?P<host>[a-z]+)-(?P<n>\\d+)', 'prometheus').exec('web-12')).toEqual(['web-12', 'web', '12']);
    expect(full('(?i:PRO)duction', 'production')).toBe(true);
    expect(full('(?i:PRO)duction', 'proDUCTION')).toBe(false);
    expect(full('(?i)pro.*', 'PROD')).toBe(true);
    expect(full('[[:alpha:]]+', 'abcXYZ')).toBe(true);
    expect(full('[[:alpha:]]+', 'abc1')).toBe(false);
    // POSIX classes are ASCII in RE2; \pL is Unicode.
    expect(full('[[:alpha:]]+', 'é')).toBe(false);
    expect(full('\\pL+', 'héllo')).toBe(true);
    expect(full('\\p{Greek}+', 'αβγ')).toBe(true);
    expect(full('\\Qa.b\\E', 'a.b')).toBe(true);
    expect(full('\\Qa.b\\E', 'axb')).toBe(false);
  });

  it('rejects what RE2 rejects with Go\'s message: lookaround, backreferences, bad repeats, unbalanced groups', () => {
    expect(regexProblem('(?=x)')).toBe('error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
    expect(regexProblem('(?!x)')).toMatch(/^error parsing regexp: invalid or unsupported Perl syntax/);
    expect(regexProblem('(a)\\1')).toBe('error parsing regexp: invalid escape sequence: `\\1`');
    expect(regexProblem('a{1001}')).toBe('error parsing regexp: invalid repeat count: `{1001}`');
    expect(regexProblem('(')).toBe('error parsing regexp: missing closing ): `(`');
    expect(regexProblem('[[:foo:]]')).toMatch(/^error parsing regexp: invalid character class range/);
    expect(regexProblem('api|web')).toBeNull();
  });

  it('checks the bare pattern, so a pattern cannot close the anchoring group and escape it', () => {
    expect(() => compileRegex('a)|(b', 'prometheus')).toThrow(RegexError);
    expect(() => compileRegex('a)|(b', 'alertmanager')).toThrow(/unexpected \)/);
  });
});

describe('anchoring', () => {
  it('matches PromQL patterns against the whole value, with . matching newlines and any code point', () => {
    expect(full('api|web', 'web')).toBe(true);
    expect(full('api|web', 'webserver')).toBe(false);
    expect(full('5..', '503')).toBe(true);
    expect(full('5..', '5030')).toBe(false);
    expect(full('a|ab', 'ab')).toBe(true);
    expect(full('.*foo.*', 'x\nfoo\ny')).toBe(true);
    expect(full('.', '😀')).toBe(true);
    expect(full('..', '😀')).toBe(false);
    expect(full('a', 'a\n')).toBe(false);
  });

  it('anchors Alertmanager matchers without letting . match a newline, as Alertmanager does', () => {
    const am = (re: string, s: string) => compileRegex(re, 'alertmanager').test(s);
    expect(am('page|critical', 'critical')).toBe(true);
    expect(am('page|critical', 'critical2')).toBe(false);
    expect(am('a.b', 'a\nb')).toBe(false);
    expect(am('(?s)a.b', 'a\nb')).toBe(true);
  });

  it('searches anywhere in the value for template functions, as Go\'s MatchString does', () => {
    expect(compileRegex('oo', 'search').test('foo')).toBe(true);
    expect(compileRegex('^oo', 'search').test('foo')).toBe(false);
  });
});

describe('Go expansion', () => {
  const re = compileRegex('(?P<host>[a-z]+)-(\\d+)', 'prometheus');
  const m = re.exec('web-12')!;

  it('expands $1, ${1}, $name, ${name} and $$', () => {
    expect(re.expand('$1/$2', m)).toBe('web/12');
    expect(re.expand('$1$1', m)).toBe('webweb');
    expect(re.expand('${1}x', m)).toBe('webx');
    expect(re.expand('$host:${host}', m)).toBe('web:web');
    expect(re.expand('$0', m)).toBe('web-12');
    expect(re.expand('cost: $$5', m)).toBe('cost: $5');
  });

  it('reads $1x as the group named "1x", so it expands to nothing', () => {
    expect(re.expand('$1x', m)).toBe('');
    expect(re.expand('$hostname', m)).toBe('');
  });

  it('expands missing, unmatched and leading-zero references to nothing', () => {
    expect(re.expand('[$9]', m)).toBe('[]');
    expect(re.expand('[$01]', m)).toBe('[]');
    const opt = compileRegex('(x)?y', 'prometheus');
    expect(opt.expand('[$1]', opt.exec('y')!)).toBe('[]');
  });

  it('keeps a malformed reference literally', () => {
    expect(re.expand('a$', m)).toBe('a$');
    expect(re.expand('${1', m)).toBe('${1');
    expect(re.expand('${a-b}', m)).toBe('${a-b}');
    expect(re.expand('$-', m)).toBe('$-');
  });
});

describe('replaceAll', () => {
  const replaceAll = (re: string, src: string, tpl: string) => compileRegex(re, 'search').replaceAll(src, tpl);

  it('replaces every match with Go\'s expansion', () => {
    expect(replaceAll('(\\w+):(\\d+)', 'web:80 db:5432', '${1}@$2')).toBe('web@80 db@5432');
    expect(replaceAll('(\\w+):(\\d+)', 'web:80', '$1x')).toBe('');
    expect(replaceAll('(?P<h>[^:]+):\\d+', 'web:80', '$h')).toBe('web');
  });

  it('treats empty matches as Go does: none right after a match, and always moves on', () => {
    expect(replaceAll('a*', 'baaac', '-')).toBe('-b-c-');
    expect(replaceAll('x*', 'abc', '-')).toBe('-a-b-c-');
    expect(replaceAll('', '😀é', '.')).toBe('.😀.é.');
    expect(replaceAll('^', 'abc', '>')).toBe('>abc');
    expect(replaceAll('$', 'abc', '<')).toBe('abc<');
  });
});

describe('linear time', () => {
  it('fails (a|a)+ against 30 a\'s and a b without backtracking (JS RegExp takes seconds)', () => {
    // RE2 guarantees time linear in the input; a backtracking engine doubles its work per 'a'.
    // The bound is 100x the time measured here, far below the exponential baseline of seconds.
    const t = performance.now();
    expect(full('(a|a)+', `${'a'.repeat(30)}b`)).toBe(false);
    expect(compileRegex('(a|a)+', 'alertmanager').test(`${'a'.repeat(30)}b`)).toBe(false);
    expect(full('(a|a)+', 'a'.repeat(10_000))).toBe(true);
    expect(full('(a|a)+', `${'a'.repeat(10_000)}b`)).toBe(false);
    expect(compileRegex('(a|a)+', 'search').replaceAll(`${'a'.repeat(10_000)}b`, 'x')).toBe('xb');
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
