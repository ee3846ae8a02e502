import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { caseKey, RECORD_PATH, runFile, TESTDATA_DIR, type Outcome, type Recorded } from './promql-suite/run.js';

/**
 * Prometheus' own PromQL acceptance files (test/promql-suite/testdata, kept verbatim) played
 * against a real Metronome, held to the recorded outcome (promql-suite/expected.json): a case
 * that fails and is not recorded as failing is a regression; a recorded failure that passes, or
 * a change in what is not played, means the record is stale and must be rewritten with
 * `PROMQL_SUITE_RECORD=1 npm run test:promql-suite` (the change then shows in review). Expected
 * values are Prometheus' and are never edited.
 */
const recorded = JSON.parse(readFileSync(RECORD_PATH, 'utf8')) as Recorded;
const files = readdirSync(TESTDATA_DIR)
  .filter((f) => f.endsWith('.test'))
  .sort();
const outcomes: Outcome[] = [];

describe("Prometheus' PromQL test suite", () => {
  it("finds Prometheus' 21 or more acceptance files in testdata", () => {
    expect(files.length).toBeGreaterThanOrEqual(21);
  });

  for (const file of files) {
    // functions.test takes 40 s on an idle 2-core machine and 8 minutes at a load average of 25:
    // the limit only catches a hang.
    it(`plays ${file} with no case failing that passed before`, { timeout: 1_200_000 }, async () => {
      const res = await runFile(TESTDATA_DIR, file);
      outcomes.push(...res);
      const regressions = res.filter((o) => o.status === 'fail' && !(caseKey(o) in recorded.failing)).map((o) => `${caseKey(o)} ${o.expr}: ${o.reason}`);
      expect(regressions).toEqual([]);
      const fixed = res.filter((o) => o.status === 'pass' && caseKey(o) in recorded.failing).map((o) => `${caseKey(o)} ${o.expr} passes now: rewrite expected.json`);
      expect(fixed).toEqual([]);
    });
  }

  it('plays every case but those recorded as not played, for the recorded reasons', () => {
    const skipped: Record<string, number> = {};
    for (const o of outcomes) if (o.status === 'skip') skipped[o.cause] = (skipped[o.cause] ?? 0) + 1;
    expect(skipped).toEqual(recorded.skipped);
    // Also a guard against a run that compared nothing.
    expect(outcomes.filter((o) => o.status === 'pass').length).toBe(recorded.passed);
    expect(Object.keys(recorded.failing).every((k) => outcomes.some((o) => caseKey(o) === k))).toBe(true);
  });
});
