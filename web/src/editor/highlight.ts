import { docOf } from './functions.js';

/** Token classes of a PromQL expression, for the editor's syntax colouring. */
type TokenClass = 'str' | 'num' | 'dur' | 'fn' | 'kw' | 'metric' | 'label' | 'op' | 'punct' | 'ws' | 'other';

export interface Token {
  text: string;
  cls: TokenClass;
}

const KW = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'atan2']);

/** Split an expression into coloured tokens. Never throws; unknown characters become "other". */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let brace = 0;
  const push = (text: string, cls: TokenClass) => out.push({ text, cls });
  while (i < src.length) {
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\s+/.exec(rest))) push(m[0], 'ws');
    else if ((m = /^("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?)/.exec(rest))) push(m[0], 'str');
    else if ((m = /^(\d+(ms|s|m|h|d|w|y))+\b/.exec(rest))) push(m[0], 'dur');
    else if ((m = /^(0x[0-9a-fA-F]+|\d*\.?\d+(e[+-]?\d+)?|Inf|NaN)\b/i.exec(rest)) && m[0] !== '') push(m[0], 'num');
    else if ((m = /^\$__[a-z_]+/.exec(rest))) push(m[0], 'dur');
    else if ((m = /^[a-zA-Z_:][a-zA-Z0-9_:.]*/.exec(rest))) {
      const w = m[0];
      const next = src.slice(i + w.length).trimStart()[0];
      if (brace > 0) push(w, 'label');
      else if (KW.has(w)) push(w, 'kw');
      else if (next === '(' && docOf(w)) push(w, 'fn');
      else if (docOf(w)?.kind === 'aggregation') push(w, 'fn');
      else push(w, 'metric');
    } else if ((m = /^(==|!=|>=|<=|=~|!~|[-+*/%^<>=])/.exec(rest))) push(m[0], 'op');
    else if ((m = /^[(){}[\],]/.exec(rest))) {
      if (m[0] === '{') brace++;
      if (m[0] === '}') brace = Math.max(0, brace - 1);
      push(m[0], 'punct');
    } else {
      m = /^./s.exec(rest)!;
      push(m[0], 'other');
    }
    i += m[0].length;
  }
  return out;
}
