/**
 * Prometheus rule files (`groups: - name, interval, rules: [...]`), loaded at start-up from
 * RULE_FILES (comma-separated paths or globs), so existing Prometheus rules work unchanged.
 * Like Prometheus, a file with any problem stops the start, and every problem is reported with
 * file, line and column.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { issuesText, type Issue } from '../errors.js';
import { checkRule, fileRuleSchema, parseRuleDuration, stableId, toRule, zodIssues, type RuleGroup, type ValidateOptions } from './rules.js';
import { WORDING } from './wording.js';

const groupSchema = z
  .object({
    name: z.string().min(1),
    interval: z.union([z.string(), z.number()]).optional(),
    limit: z.number().int().min(0).optional(),
    query_offset: z.union([z.string(), z.number()]).optional(),
    labels: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
    rules: z.array(z.unknown()).nullish(),
  })
  .strict();

const fileSchema = z.object({ groups: z.array(z.unknown()).nullish() }).strict();

export class RuleFileError extends Error {
  override name = 'RuleFileError';
  constructor(readonly problems: Issue[]) {
    super(
      `invalid rule file(s):\n` +
        problems.map((p) => `  ${p.file}${p.line ? `:${p.line}:${p.column}` : ''}: ${p.path?.length ? issuesText([p]) : p.message} [${p.code}]`).join('\n'),
    );
  }
}

/** Expand comma-separated paths and globs (`*`, `?`, `**`) into existing files, sorted, without duplicates. */
export function expandRuleFiles(spec: string, cwd = process.cwd()): { files: string[]; unmatched: string[] } {
  const files = new Set<string>();
  const unmatched: string[] = [];
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const abs = isAbsolute(raw) ? raw : resolve(cwd, raw);
    const found = /[*?[]/.test(abs) ? glob(abs) : safeIsFile(abs) ? [abs] : [];
    if (found.length === 0) unmatched.push(raw);
    for (const f of found) files.add(f);
  }
  return { files: [...files].sort(), unmatched };
}

function safeIsFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function globRe(seg: string): RegExp {
  let re = '';
  for (const c of seg) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function glob(pattern: string): string[] {
  const parts = pattern.split(sep);
  const out: string[] = [];
  const walk = (dir: string, i: number): void => {
    if (i === parts.length) {
      if (safeIsFile(dir)) out.push(dir);
      return;
    }
    const seg = parts[i];
    if (!/[*?[]/.test(seg)) return walk(join(dir, seg), i + 1);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    if (seg === '**') {
      walk(dir, i + 1);
      for (const e of entries) if (!e.startsWith('.') && statSync(join(dir, e), { throwIfNoEntry: false })?.isDirectory()) walk(join(dir, e), i);
      return;
    }
    const re = globRe(seg);
    for (const e of entries) if (re.test(e)) walk(join(dir, e), i + 1);
  };
  walk(parts[0] === '' ? sep : parts[0], 1);
  return out;
}

function position(doc: Document, lc: LineCounter, path: (string | number)[]): { line?: number; column?: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) {
      const p = lc.linePos(node.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return {};
}

/** Parse one rule file's text into groups, or collect its problems. */
export function parseRuleFile(file: string, text: string, opts: ValidateOptions & { defaultIntervalMs: number }): { groups: RuleGroup[]; problems: Issue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: Issue[] = [];
  const add = (issues: Issue[]) => {
    for (const i of issues) {
      const pos = position(doc, lc, Array.isArray(i.path) ? i.path : []);
      problems.push({ ...i, file, ...pos });
    }
  };
  if (doc.errors.length) {
    for (const e of doc.errors) {
      problems.push({ code: 'MTR_RULE_FILE_YAML', path: [], message: e.message.split('\n')[0], file, line: e.linePos?.[0].line, column: e.linePos?.[0].col });
    }
    return { groups: [], problems };
  }
  const top = fileSchema.safeParse(doc.toJS() ?? {}, WORDING);
  if (!top.success) {
    add(zodIssues(top.error));
    return { groups: [], problems };
  }
  const groups: RuleGroup[] = [];
  const names = new Set<string>();
  (top.data.groups ?? []).forEach((g, gi) => {
    const gp = ['groups', gi];
    const parsed = groupSchema.safeParse(g, WORDING);
    if (!parsed.success) return add(zodIssues(parsed.error, gp));
    const grp = parsed.data;
    if (names.has(grp.name)) add([{ code: 'MTR_RULE_GROUP_DUPLICATE', path: [...gp, 'name'], message: `group name ${JSON.stringify(grp.name)} is repeated in the same file` }]);
    names.add(grp.name);
    const interval = grp.interval === undefined ? opts.defaultIntervalMs : parseRuleDuration(grp.interval);
    if (interval === null || interval < (opts.minIntervalMs ?? 1000)) {
      add([{ code: 'MTR_RULE_DURATION', path: [...gp, 'interval'], message: `invalid interval ${JSON.stringify(grp.interval)}: a duration of at least ${(opts.minIntervalMs ?? 1000) / 1000}s` }]);
    }
    const offset = grp.query_offset === undefined ? 0 : parseRuleDuration(grp.query_offset);
    if (offset === null) add([{ code: 'MTR_RULE_DURATION', path: [...gp, 'query_offset'], message: `invalid query_offset ${JSON.stringify(grp.query_offset)}` }]);
    const rules: RuleGroup['rules'] = [];
    (grp.rules ?? []).forEach((r, ri) => {
      const rp = [...gp, 'rules', ri];
      const pr = fileRuleSchema.safeParse(r, WORDING);
      if (!pr.success) return add(zodIssues(pr.error, rp));
      const issues = checkRule(pr.data, rp, opts);
      if (issues.length) return add(issues);
      const name = pr.data.alert ?? pr.data.record!;
      const id = stableId('file', file, grp.name, pr.data.alert ? 'alert' : 'record', name, pr.data.expr, JSON.stringify(pr.data.labels ?? {}));
      rules.push(toRule(pr.data, id, grp.labels ?? {}));
    });
    groups.push({
      key: `${file};${grp.name}`,
      name: grp.name,
      file,
      source: 'file',
      intervalMs: interval ?? opts.defaultIntervalMs,
      limit: grp.limit ?? 0,
      queryOffsetMs: offset ?? 0,
      rules,
    });
  });
  return { groups, problems };
}

/** Load every file RULE_FILES names. Throws RuleFileError listing all problems. */
export function loadRuleFiles(spec: string | undefined, opts: ValidateOptions & { defaultIntervalMs: number }, cwd?: string): RuleGroup[] {
  if (!spec) return [];
  const { files, unmatched } = expandRuleFiles(spec, cwd);
  const problems: Issue[] = unmatched.map((u) => ({ code: 'MTR_RULE_FILE_MISSING', path: [], message: 'no file matches this path or glob', file: u }));
  const groups: RuleGroup[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      problems.push({ code: 'MTR_RULE_FILE_MISSING', path: [], message: (e as Error).message, file: f });
      continue;
    }
    const r = parseRuleFile(f, text, opts);
    groups.push(...r.groups);
    problems.push(...r.problems);
  }
  if (problems.length) throw new RuleFileError(problems);
  return groups;
}
