import { MetronomeError } from '../errors.js';

/**
 * The only way SQL is built in Metronome: a tagged template that keeps user values out of the
 * SQL text. Values become server-side typed parameters (`{p0:String}`), identifiers are checked,
 * and raw fragments must be marked with `raw()`.
 *
 *   sql`SELECT * FROM series WHERE key = ${param('String', name)}`
 *   // -> { sql: 'SELECT * FROM series WHERE key = {p0:String}', params: { p0: name } }
 */

export interface Sql {
  readonly __sql: true;
  /** Template strings and parts, joined lazily so fragments can be nested. */
  readonly parts: readonly (string | Param | Sql)[];
}

export interface Param {
  readonly __param: true;
  readonly type: string;
  readonly value: unknown;
}

export interface Compiled {
  sql: string;
  params: Record<string, unknown>;
}

const PARAM_TYPE = /^[A-Za-z0-9(), ']+$/;

/** A value bound as a typed server-side parameter. `type` is a ClickHouse type name. */
export function param(type: string, value: unknown): Param {
  if (!PARAM_TYPE.test(type)) throw new Error(`invalid parameter type ${type}`);
  return { __param: true, type, value };
}

const IDENT = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A checked identifier (table, column). Only plain identifiers pass. */
export function ident(name: string): Sql {
  if (!IDENT.test(name)) throw new Error(`invalid identifier ${JSON.stringify(name)}`);
  return { __sql: true, parts: [name] };
}

/** A trusted SQL fragment written by us, never from user input. */
export function raw(text: string): Sql {
  return { __sql: true, parts: [text] };
}

export function sql(strings: TemplateStringsArray, ...values: (Sql | Param)[]): Sql {
  const parts: (string | Param | Sql)[] = [];
  strings.forEach((s, i) => {
    parts.push(s);
    if (i < values.length) {
      const v = values[i];
      if (!v || (!(v as Sql).__sql && !(v as Param).__param)) {
        throw new Error('sql: interpolate only sql fragments, param(), ident() or raw()');
      }
      parts.push(v);
    }
  });
  return { __sql: true, parts };
}

/** Join fragments with a separator (e.g. ' AND ', ', '). */
export function join(items: readonly Sql[], separator: string): Sql {
  const parts: (string | Sql)[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(separator);
    parts.push(item);
  });
  return { __sql: true, parts };
}

/** Turn a fragment tree into SQL text with `{pN:Type}` placeholders and the parameter map. */
export function compile(q: Sql): Compiled {
  const params: Record<string, unknown> = {};
  let n = 0;
  const walk = (node: Sql): string => {
    let out = '';
    for (const p of node.parts) {
      if (typeof p === 'string') out += p;
      else if ((p as Param).__param) {
        const name = `p${n++}`;
        const { type, value } = p as Param;
        // A number the client cannot send exactly (a time of 1e20 s, a 10^6-year range) is bad
        // input, not a server error. Checked here, inside the store's async call, never while a
        // query is being built (a synchronous throw there can orphan a sibling promise).
        if (typeof value === 'number' && !Number.isSafeInteger(value) && /^U?Int(64|128|256)$/.test(type)) {
          throw new MetronomeError('MTR_VALUE_OUT_OF_RANGE', [String(value)]);
        }
        params[name] = value;
        out += `{${name}:${(p as Param).type}}`;
      } else out += walk(p as Sql);
    }
    return out;
  };
  return { sql: walk(q), params };
}
