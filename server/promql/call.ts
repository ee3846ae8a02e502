/**
 * What a function's implementation sees of the evaluator, and the shape of a function table entry
 * (function-table.ts). Its own module so that the implementations (calls.ts, range-calls.ts,
 * histogram-calls.ts, label-calls.ts), the table and the evaluator that dispatches through the
 * table import it without importing one another in a circle.
 */
import type { Annotations } from './annotations.js';
import type { AtModifier, Call, Expr, MatrixSelector, Subquery, ValueType, VectorSelector } from './ast.js';
import type { Frame } from './budget.js';
import type { RangeFn } from './functions.js';
import type { EvalValue, Grid, SampleSeries, StepSeries } from './matrix.js';
import type { WindowNames } from './window-sql.js';

/** The query's settings a function reads (eval.ts' EvalContext has these and more). */
interface CallContext {
  lookback: number;
  maxLabelBytes: number;
  notes?: Annotations;
  range?: boolean;
}

/** The evaluator's methods a function's implementation calls (eval.ts' Evaluator). */
export interface Evaluator {
  readonly ctx: CallContext;
  /** The frame of the node being evaluated: its memory and time budget. */
  readonly m: Frame;
  vector(e: Expr, g: Grid): Promise<StepSeries[]>;
  scalar(e: Expr, g: Grid): Promise<Float64Array>;
  shifted(offset: number, at: AtModifier | null, g: Grid): Grid;
  /** `fn` is a leaf function (function-table.ts' LeafFunction). */
  leafGrid(fn: string, sel: VectorSelector, window: number, g: Grid, arg?: number): Promise<StepSeries[]>;
  constScalarArg(e: Call, g: Grid): Promise<number | undefined | null>;
  matrixSamples(m: MatrixSelector, g: Grid): Promise<SampleSeries[]>;
  subquerySamples(sq: Subquery, g: Grid, onlyLastWindow?: boolean): Promise<SampleSeries[]>;
  widenedSamples(sel: VectorSelector, range: number, g: Grid, before: number, after: number): Promise<{ samples: SampleSeries[]; sg: Grid }>;
  checkQuantile(q: Float64Array, arg: Expr): void;
}

/** How the evaluator computes a call of the function `def`. */
export type CallImpl = (ev: Evaluator, e: Call, g: Grid, def: FunctionDef) => Promise<EvalValue>;

/** A function's forms as a leaf ClickHouse computes (sql.ts' grid and window forms). */
export interface SqlForm {
  /** ClickHouse's timeSeries*ToGrid function that computes it over raw points. */
  grid?: string;
  /** Its value over one window's aggregates: the window form, over raw points or rollup buckets. */
  window?: (w: WindowNames) => string;
  /** Whether the window form over rollup buckets is exact (counter functions: unless a window holds a reset). */
  rollup?: boolean;
  /** It reads a window's newest sample only: the grid function runs over each rollup bucket's last sample. */
  lastSample?: boolean;
  /** The window form needs every sample, not slices folded first: a compensated sum, or the variance. */
  perSample?: 'sum' | 'variance';
}

export interface FunctionDef {
  args: ValueType[];
  ret: ValueType;
  /** How many of the trailing arguments may be omitted. */
  optional?: number;
  /** The last argument type repeats freely (label_join's source labels). */
  variadic?: boolean;
  /** Absent for the query-context functions, which engine.ts folds to numbers first (durations.ts). */
  call?: CallImpl;
  /** A range function's value over one window (functions.ts): evaluator, head leaves (head-leaf.ts). */
  range?: RangeFn;
  /**
   * A range function whose result keeps the metric name. Other functions' implementations say it
   * themselves: element-wise ones drop it, label_*, sort* and info pass series through.
   */
  keepsName?: boolean;
  /** rate and increase: counter functions (resets checked in rollups, Prometheus' info on non-counters). */
  counter?: boolean;
  sql?: SqlForm;
  /** Whether a call over a range selector runs as a leaf in the data source: by default when it has SQL forms. */
  leaf?: boolean;
}

