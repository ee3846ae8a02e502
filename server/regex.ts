/**
 * Regular expressions written by users, with RE2's syntax and its linear-time guarantee: one
 * engine for the whole server. ClickHouse runs selectors with RE2; label_replace, Alertmanager
 * matchers (silences, routes, inhibition), template functions and the checks done when a
 * pattern is written run here on re2js, a port of the same engine (Go's regexp/syntax rules and
 * error messages), so a pattern means the same thing everywhere and a hostile one such as
 * `(a|a)+` cannot stall the event loop (issue 10; the measurement that chose re2js over the
 * native `re2` addon is in docs/ARCHITECTURE.md, "Regular expressions").
 *
 * Anchoring follows the system a user would compare with:
 * - `prometheus`: PromQL matchers and label_replace, `^(?s:re)$` (`.` matches newlines too, as
 *   in Prometheus 3 and in ClickHouse's `match`);
 * - `alertmanager`: Alertmanager matchers, `^(?:re)$`;
 * - `search`: Go's regexp.Compile, unanchored (template functions `match`, `reReplaceAll`).
 * In every mode the pattern must be valid on its own first (Prometheus parses the bare pattern
 * before wrapping it), so `a)|(b` cannot escape its anchors.
 */
import { RE2JS } from 're2js';

export type Anchoring = 'prometheus' | 'alertmanager' | 'search';

/** A pattern RE2 rejects; `message` is Go's, e.g. "error parsing regexp: missing closing ): `(`". */
export class RegexError extends Error {
  override name = 'RegexError';
  constructor(
    readonly pattern: string,
    message: string,
  ) {
    super(message);
  }
}

/** The groups of one match: index 0 is the whole match; a group that took no part is undefined. */
export type Groups = (string | undefined)[];

export class Regex {
  readonly #re: RE2JS;
  readonly #full: boolean;
  readonly #names: Record<string, number>;

  /** Use compileRegex, which checks the pattern and caches the result. */
  constructor(
    readonly pattern: string,
    readonly anchoring: Anchoring,
  ) {
    const body = anchoring === 'prometheus' ? `(?s:${pattern})` : anchoring === 'alertmanager' ? `(?:${pattern})` : pattern;
    this.#re = RE2JS.compile(body);
    this.#full = anchoring !== 'search';
    this.#names = this.#re.namedGroups();
  }

  /** Whether `s` matches: the whole of it when anchored, anywhere in it otherwise. */
  test(s: string): boolean {
    return this.#full ? this.#re.matches(s) : this.#re.test(s);
  }

  /** The groups of the (first) match in `s`, or null. */
  exec(s: string): Groups | null {
    const m = this.#re.matcher(s);
    if (!(this.#full ? m.matches() : m.find())) return null;
    return groups(m, this.#re.groupCount());
  }

  /**
   * Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$` for a dollar. A name is the
   * longest run of letters, digits and underscores, so `$1x` names a group "1x" (write `${1}x`);
   * a reference to a missing or unmatched group expands to "", and a malformed one (`$`, `${`,
   * `${a-b}`) stays literal.
   */
  expand(template: string, g: Groups): string {
    let out = '';
    let i = 0;
    while (i < template.length) {
      const d = template.indexOf('$', i);
      if (d < 0) {
        out += template.slice(i);
        break;
      }
      out += template.slice(i, d);
      if (template[d + 1] === '$') {
        out += '$';
        i = d + 2;
        continue;
      }
      const ref = reference(template, d);
      if (!ref) {
        out += '$';
        i = d + 1;
        continue;
      }
      i = ref.end;
      const index = groupIndex(ref.name);
      if (index >= 0) out += g[index] ?? '';
      else if (Object.hasOwn(this.#names, ref.name)) out += g[this.#names[ref.name]] ?? '';
    }
    return out;
  }

  /**
   * Go's Regexp.ReplaceAllString: every non-overlapping match replaced by the expanded
   * template; an empty match right after a previous match is not replaced, and the search
   * always moves on by at least one character.
   */
  replaceAll(src: string, template: string): string {
    const m = this.#re.matcher(src);
    const n = this.#re.groupCount();
    let out = '';
    let last = 0;
    let pos = 0;
    while (pos <= src.length && m.find(pos)) {
      const start = m.start();
      const end = m.end();
      out += src.slice(last, start);
      if (end > last || start === 0) out += this.expand(template, groups(m, n));
      last = end;
      const width = pos < src.length ? charWidth(src, pos) : 0;
      if (pos + width > end) pos += width;
      else if (pos + 1 > end) pos++;
      else pos = end;
    }
    return out + src.slice(last);
  }
}

function groups(m: ReturnType<RE2JS['matcher']>, n: number): Groups {
  const g: Groups = [];
  for (let i = 0; i <= n; i++) g.push(m.group(i) ?? undefined);
  return g;
}

/** UTF-16 units of the code point at `i` (Go steps over runes, not bytes of one). */
function charWidth(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** The `$name` or `${name}` reference starting at `template[d] === '$'`, or null when malformed. */
function reference(template: string, d: number): { name: string; end: number } | null {
  const brace = template[d + 1] === '{';
  let i = d + (brace ? 2 : 1);
  const start = i;
  while (i < template.length) {
    const cp = template.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === start) return null;
  const name = template.slice(start, i);
  if (brace) {
    if (template[i] !== '}') return null;
    i++;
  }
  return { name, end: i };
}

/** A group number as Go reads one: digits only, no leading zero, below 1e8; otherwise -1 (a name). */
function groupIndex(name: string): number {
  if (!/^\d+$/.test(name) || (name.length > 1 && name[0] === '0') || name.length > 8) return -1;
  return Number(name);
}

const CACHE_SIZE = 2_000;
const cache = new Map<string, Regex>();

/**
 * The compiled form of a user's pattern, anchored as `anchoring` says; throws RegexError with
 * Go's message when RE2 rejects it. Compiled patterns are cached (least recently used first out),
 * since silences and routes match the same few patterns against every alert.
 */
export function compileRegex(pattern: string, anchoring: Anchoring): Regex {
  const key = `${anchoring}\u0000${pattern}`;
  let r = cache.get(key);
  if (r) {
    cache.delete(key);
    cache.set(key, r);
    return r;
  }
  if (anchoring !== 'search') checkRegex(pattern);
  try {
    r = new Regex(pattern, anchoring);
  } catch (e) {
    throw new RegexError(pattern, (e as Error).message);
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, r);
  return r;
}

/** Throws RegexError when RE2 rejects the bare pattern (Go's regexp/syntax rules). */
function checkRegex(pattern: string): void {
  try {
    RE2JS.compile(pattern);
  } catch (e) {
    throw new RegexError(pattern, (e as Error).message);
  }
}

/** Go's message for a pattern RE2 rejects, or null when it is valid. */
export function regexProblem(pattern: string): string | null {
  try {
    checkRegex(pattern);
    return null;
  } catch (e) {
    if (e instanceof RegexError) return e.message;
    throw e;
  }
}
