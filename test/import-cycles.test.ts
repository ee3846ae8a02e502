import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../server/paths.js';

/**
 * Issue 17: no import circle among the server's and ingest's modules, type-only imports
 * included (a type import of the app from a route is still a route that knows the app). The
 * graph is read from the sources' import and export-from statements; a cycle is reported as
 * the chain of files that closes it.
 */
const DIRS = ['server', 'ingest'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const dir of DIRS) {
    for (const file of sources(dir)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const deps = [...text.matchAll(IMPORT)].map((m) => relative(ROOT, resolve(ROOT, dirname(file), m[1].replace(/\.js$/, '.ts'))));
      g.set(file, deps.filter((d) => DIRS.some((x) => d.startsWith(`${x}/`))));
    }
  }
  return g;
}

/** Strongly connected components of more than one file (or a file importing itself). */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (g.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('module graph', () => {
  it('reads the imports it checks (the app imports its routes)', () => {
    const g = graph();
    expect(g.get('server/app.ts')).toContain('server/routes/query.ts');
    expect(g.size).toBeGreaterThan(100);
  });

  it('has no import circle in server/ and ingest/', () => {
    expect(cycles(graph())).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
