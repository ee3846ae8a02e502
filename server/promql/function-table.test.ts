import { describe, expect, it } from 'vitest';
import { compile } from '../store/sql.js';
import { FUNCTIONS, functionDef, isLeafFunction, sqlForm, type LeafFunction } from './function-table.js';
import { parseExpr } from './parse.js';
import { leafSql } from './sql.js';

const entries = Object.entries(FUNCTIONS) as [keyof typeof FUNCTIONS, (typeof FUNCTIONS)[keyof typeof FUNCTIONS]][];

describe('the function table', () => {
  it('gives every function an implementation but the query-context ones, which are folded before evaluation', () => {
    const without = entries.filter(([, def]) => !('call' in def && def.call)).map(([name]) => name);
    expect(without.sort()).toEqual(['end', 'range', 'start', 'step']);
  });

  it('runs as leaves only range functions over a range vector, with a window function for the head', () => {
    for (const [name, def] of entries) {
      if (!isLeafFunction(name)) continue;
      expect(def.args, name).toContain('matrix');
      expect('range' in def && def.range, name).toBeTruthy();
    }
  });

  it('builds a leaf query for every function with SQL forms, in each form it has', () => {
    const plan = { matchers: [{ name: '__name__', op: '=' as const, value: 'x' }], start: 0, end: 600_000, step: 60_000, window: 300_000 };
    const names = entries.filter(([, def]) => 'sql' in def).map(([name]) => name as LeafFunction);
    for (const fn of ['sample' as const, ...names]) {
      const form = sqlForm(fn);
      expect(form.grid || form.window, fn).toBeTruthy();
      if (form.grid) expect(compile(leafSql({ ...plan, fn, form: 'grid' })).sql, fn).toContain(form.grid);
      if (form.window) expect(compile(leafSql({ ...plan, fn, form: 'window' })).sql, fn).toContain('arrayJoin(range(');
    }
  });

  it('knows no function by an Object property name', () => {
    expect(functionDef('constructor')).toBeUndefined();
    expect(() => parseExpr('toString(up)')).toThrow('unknown function with name "toString"');
  });
});
