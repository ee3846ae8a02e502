import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, ISSUES } from '../server/errors.js';
import { WRITE_ISSUES } from '../ingest/issues.js';

// Fastify's test/internals/errors.test.js, for our catalogue: every code written anywhere in the
// tree is catalogued, every catalogued code is used, and the README's tables list exactly the
// catalogue, both ways. A code assembled at run time would escape the scan: write codes whole.

const ROOT = join(import.meta.dirname, '..');
const SCANNED = ['server', 'ingest', 'client', 'web/src', 'bench', 'test'];
/** Data the tests read (configs, Grafana dashboards, Prometheus' acceptance files), not our code. */
const NOT_SCANNED = new Set(['test/fixtures', 'test/data', 'test/promql-suite/testdata']);
const CATALOGUE_FILES = new Set(['server/errors.ts', 'ingest/issues.ts']);
// Built from parts so that this file's own text holds no code.
const CODE = new RegExp(`\\b${'MTR'}_[A-Z0-9]+(?:_[A-Z0-9]+)*\\b`, 'g');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.name === 'node_modules' || e.name === 'dist' || NOT_SCANNED.has(rel)) continue;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (/\.tsx?$/.test(e.name)) out.push(rel);
  }
  return out;
}

const files = SCANNED.flatMap(sources);
/** code -> files it is written in (the catalogue's own files left out). */
const uses = new Map<string, string[]>();
for (const f of files) {
  if (CATALOGUE_FILES.has(f)) continue;
  for (const [code] of readFileSync(join(ROOT, f), 'utf8').matchAll(CODE)) {
    const list = uses.get(code) ?? [];
    if (!list.includes(f)) list.push(f);
    uses.set(code, list);
  }
}
const isTest = (f: string) => f.startsWith('test/') || /\.test\.tsx?$/.test(f);

const catalogued = new Map<string, number | null>([
  ...Object.entries(ERRORS).map(([c, e]): [string, number | null] => [c, e.status]),
  ...Object.keys(ISSUES).map((c): [string, null] => [c, null]),
]);

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('\n## Error codes\n'), readme.indexOf('\n## ', readme.indexOf('\n## Error codes\n') + 1));
/** Rows of the README's two tables: code -> status (null in the table of issue codes). */
const documented = new Map<string, number | null>();
for (const m of section.matchAll(/^\| `([^`]+)` \| (\d{3}) \|/gm)) documented.set(m[1], Number(m[2]));
for (const m of section.matchAll(/^\| `([^`]+)` \| (?!\d{3} \|)/gm)) documented.set(m[1], null);

describe('the error catalogue', () => {
  it('scans the tree it means to scan', () => {
    // A guard against a scan that finds nothing and so passes everything.
    expect(files.length).toBeGreaterThan(300);
    expect(files).toContain('ingest/validate.ts');
    expect(files).toContain('web/src/pages/alerts/wording.ts');
    expect(uses.size).toBeGreaterThan(80);
    expect(documented.size).toBe(catalogued.size);
  });

  it('has well-formed codes, and no code both an error and an issue', () => {
    for (const code of catalogued.keys()) expect(code).toMatch(CODE);
    for (const code of Object.keys(ERRORS)) expect(code in ISSUES, code).toBe(false);
    // ingest/ may not import server/: its codes reach the catalogue through this spread.
    for (const code of Object.keys(WRITE_ISSUES)) expect(code in ISSUES, code).toBe(true);
  });

  it('holds every code written in the tree', () => {
    const unknown = [...uses].filter(([code]) => !catalogued.has(code)).map(([code, where]) => `${code} in ${where.join(', ')}`);
    expect(unknown).toEqual([]);
  });

  it('holds no code that the server or the write path never uses', () => {
    const unused = [...catalogued.keys()].filter((code) => !(uses.get(code) ?? []).some((f) => !isTest(f) && (f.startsWith('server/') || f.startsWith('ingest/'))));
    expect(unused).toEqual([]);
  });

  it("matches the README's tables both ways, statuses included", () => {
    const missing = [...catalogued.keys()].filter((code) => !documented.has(code));
    const extra = [...documented.keys()].filter((code) => !catalogued.has(code));
    const wrongStatus = [...catalogued].filter(([code, status]) => documented.has(code) && documented.get(code) !== status).map(([code, status]) => `${code}: ${status} in the catalogue, ${documented.get(code)} in the README`);
    expect({ missing, extra, wrongStatus }).toEqual({ missing: [], extra: [], wrongStatus: [] });
  });

  it('names only catalogued codes anywhere in the README and docs/', () => {
    const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => relative(ROOT, join(ROOT, 'docs', f)))];
    const unknown = docs.flatMap((f) => [...readFileSync(join(ROOT, f), 'utf8').matchAll(CODE)].map(([code]) => code).filter((code) => !catalogued.has(code)).map((code) => `${code} in ${f}`));
    expect(unknown).toEqual([]);
  });
});
