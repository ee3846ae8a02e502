/**
 * Plays Prometheus' PromQL acceptance files against a real Metronome and prints pass/fail counts
 * per file, per failure cause and per reason a case is not played (runner: promql-suite/run.ts).
 *
 *   npm run test:promql-suite [-- file.test ...]
 *
 * PROMQL_SUITE_DIR=<dir> plays another copy of the files (e.g. a newer prometheus checkout);
 * PROMQL_SUITE_REPORT=<path> writes every outcome as JSON lines; PROMQL_SUITE_VERBOSE=1 prints
 * each failure with its reason. PROMQL_SUITE_RECORD=1 (whole suite, kept files only) rewrites
 * promql-suite/expected.json, the outcome test/promql-suite.test.ts holds the server to.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { record, RECORD_PATH, runFile, TESTDATA_DIR, type Outcome, type Recorded } from './promql-suite/run.js';

function table(rows: [string, ...(string | number)[]][], head: string[]): string {
  const all = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const dir = process.env.PROMQL_SUITE_DIR || TESTDATA_DIR;
  const only = process.argv.slice(2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test') && (only.length === 0 || only.includes(f)))
    .sort();
  const outcomes: Outcome[] = [];
  for (const file of files) {
    const t0 = Date.now();
    const res = await runFile(dir, file);
    outcomes.push(...res);
    const n = (s: Outcome['status']) => res.filter((o) => o.status === s).length;
    console.log(`${file}: ${n('pass')} passed, ${n('fail')} failed, ${n('skip')} skipped (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (process.env.PROMQL_SUITE_VERBOSE) for (const o of res) if (o.status === 'fail') console.log(`  line ${o.line} [${o.cause}] ${o.expr}\n    ${o.reason}`);
  }
  const count = (pred: (o: Outcome) => boolean) => outcomes.filter(pred).length;
  console.log('\n' + table(files.map((f) => [f, count((o) => o.file === f && o.status === 'pass'), count((o) => o.file === f && o.status === 'fail'), count((o) => o.file === f && o.status === 'skip')]), ['file', 'pass', 'fail', 'skip']));
  const causes = new Map<string, number>();
  const skips = new Map<string, number>();
  for (const o of outcomes) {
    if (o.status === 'fail') causes.set(o.cause, (causes.get(o.cause) ?? 0) + 1);
    if (o.status === 'skip') skips.set(o.cause, (skips.get(o.cause) ?? 0) + 1);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]) as [string, number][];
  console.log('\n' + table(sorted(causes), ['failure cause', 'cases']));
  console.log('\n' + table(sorted(skips), ['not played', 'cases']));
  const played = count((o) => o.status !== 'skip');
  console.log(`\npassed ${count((o) => o.status === 'pass')} of ${played} played cases (${count((o) => o.status === 'skip')} not played)`);
  if (process.env.PROMQL_SUITE_RECORD) {
    if (dir !== TESTDATA_DIR || only.length) throw new Error('PROMQL_SUITE_RECORD records a run of the whole kept suite only');
    const old = JSON.parse(readFileSync(RECORD_PATH, 'utf8')) as Recorded;
    writeFileSync(RECORD_PATH, JSON.stringify(record(old.source, outcomes), null, 2) + '\n');
    console.log(`recorded in ${RECORD_PATH}`);
  }
  if (process.env.PROMQL_SUITE_REPORT) writeFileSync(process.env.PROMQL_SUITE_REPORT, outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n');
}


await main();
