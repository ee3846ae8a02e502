import { describe, expect, it } from 'vitest';
import { tokenize } from './highlight.js';

describe('tokenize', () => {
  it('classifies the parts of an expression and loses no character', () => {
    const src = 'sum by (route) (rate(http_requests_total{code=~"5.."}[5m])) > 0.5';
    const toks = tokenize(src);
    expect(toks.map((t) => t.text).join('')).toBe(src);
    const cls = (text: string) => toks.find((t) => t.text === text)?.cls;
    expect(cls('sum')).toBe('fn');
    expect(cls('by')).toBe('kw');
    expect(cls('rate')).toBe('fn');
    expect(cls('http_requests_total')).toBe('metric');
    expect(cls('code')).toBe('label');
    expect(cls('"5.."')).toBe('str');
    expect(cls('5m')).toBe('dur');
    expect(cls('0.5')).toBe('num');
    expect(cls('=~')).toBe('op');
  });

  it('copes with unterminated strings and stray characters', () => {
    const src = 'x{a="unterminated #';
    expect(tokenize(src).map((t) => t.text).join('')).toBe(src);
  });
});
