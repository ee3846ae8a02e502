/**
 * Validation messages in words (issue 13, "human wording for validation errors"): zod's default
 * messages ("Too small: expected string to have >=1 characters", "Invalid input: expected
 * string, received undefined") are for programmers. This error map says what a field must be,
 * for API users and for the UI, which shows the message next to the field it names. Messages a
 * schema sets itself (`.min(1, '...')`, refinements) take precedence over this map (zod 4's
 * order: schema, then parse-time map), so it only replaces zod's defaults.
 *
 * Use it at every alerting parse: `schema.safeParse(body, WORDING)`.
 */
import type { z } from 'zod';

const KIND: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of names to values',
  record: 'a mapping of names to values',
  map: 'a mapping of names to values',
  date: 'a date',
  null: 'null',
};

/** What a value is, in words: "the number 5", "a list", "null". */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return v === '' ? 'empty text' : `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return String(v);
    case 'object':
      return 'a mapping';
    default:
      return typeof v;
  }
}

const plural = (n: number | bigint, one: string, many = `${one}s`) => `${n} ${Number(n) === 1 ? one : many}`;

/** A list in words: `"a", "b" or "c"`. */
function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length <= 1 ? (shown[0] ?? 'nothing') : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`;
}

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

/** zod 4 error map: one sentence fragment per issue ("must not be empty"), the field is named by the path. */
function humanIssue(iss: RawIssue): string | undefined {
  const i = iss as RawIssue & Record<string, any>;
  switch (i.code) {
    case 'invalid_type': {
      if (i.input === undefined) return 'is required';
      const want = KIND[String(i.expected)] ?? String(i.expected);
      return `must be ${want}, not ${describeValue(i.input)}`;
    }
    case 'too_small': {
      const min = i.minimum as number | bigint;
      if (i.origin === 'string') return Number(min) === 1 ? 'must not be empty' : `must be at least ${plural(min, 'character')} long`;
      if (i.origin === 'array' || i.origin === 'set') return Number(min) === 1 ? 'needs at least one entry' : `needs at least ${plural(min, 'entry', 'entries')}`;
      return `must be ${i.inclusive === false ? 'greater than' : 'at least'} ${min}`;
    }
    case 'too_big': {
      const max = i.maximum as number | bigint;
      if (i.origin === 'string') return `must be at most ${plural(max, 'character')} long`;
      if (i.origin === 'array' || i.origin === 'set') return `may have at most ${plural(max, 'entry', 'entries')}`;
      return `must be ${i.inclusive === false ? 'less than' : 'at most'} ${max}`;
    }
    case 'invalid_value':
      return i.values.length === 1 ? `must be ${oneOf(i.values)}` : `must be one of ${oneOf(i.values)}${i.input === undefined ? '' : `, not ${describeValue(i.input)}`}`;
    case 'invalid_format':
      return i.format === 'regex' ? `has the wrong format${i.pattern ? ` (it must match ${String(i.pattern)})` : ''}` : `must be a valid ${String(i.format).replace(/_/g, ' ')}`;
    case 'invalid_union':
      return i.input === undefined ? 'is required' : `cannot be ${describeValue(i.input)}: none of the accepted forms fits`;
    case 'unrecognized_keys':
      return `unknown field${i.keys.length === 1 ? '' : 's'} ${oneOf(i.keys)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${i.divisor}`;
    case 'invalid_key':
      return 'has an invalid name';
    default:
      return undefined;
  }
}

/** Parse options that word zod's issues in sentences. */
export const WORDING = { error: humanIssue } as const;
