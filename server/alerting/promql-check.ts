import { parser } from '@prometheus-io/lezer-promql';
import { typeName, typeOf } from '../promql/ast.js';
import { parseExpr } from '../promql/parse.js';
import { PromQLError } from '../promql/types.js';

/** A problem in a rule's PromQL, with the 0-based character position. */
interface PromqlProblem {
  message: string;
  position: number;
}

/** Checks an expression when a rule is saved; null when it is acceptable. */
export type PromqlCheck = (expr: string) => PromqlProblem | null;

/**
 * The engine's own parser (syntax, functions, argument types: what a query would reject), and
 * the rule's requirement that the result be an instant vector or a scalar.
 */
export const engineCheck: PromqlCheck = (expr) => {
  try {
    const ast = parseExpr(expr);
    const t = typeOf(ast);
    if (t !== 'vector' && t !== 'scalar') {
      return { message: `a rule expression must return an instant vector or a scalar, not a ${typeName(t)}`, position: 0 };
    }
    return null;
  } catch (e) {
    if (e instanceof PromQLError) return { message: e.message, position: e.position };
    throw e;
  }
};

/**
 * The metric names an expression selects; null when a selector names no metric (then it could
 * read anything, including a recording rule's output).
 */
export function selectedMetrics(expr: string): Set<string> | null {
  const out = new Set<string>();
  let open = false;
  parser.parse(expr).iterate({
    enter(n) {
      if (n.name !== 'VectorSelector') return;
      const id = n.node.getChild('Identifier');
      if (id) out.add(expr.slice(id.from, id.to));
      else {
        const m = /__name__\s*=\s*["'`]([^"'`]+)["'`]/.exec(expr.slice(n.from, n.to));
        if (m) out.add(m[1]);
        else open = true;
      }
      return false;
    },
  });
  return open ? null : out;
}
