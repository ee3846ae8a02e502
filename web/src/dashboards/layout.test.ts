import { describe, expect, it } from 'vitest';
import type { DashPanel } from '../api/dashboards.js';
import { layout } from './layout.js';

const p = (kind: DashPanel['kind'], y: number, h: number): DashPanel => ({ kind, title: `${kind}@${y}`, queries: [], options: {}, gridPos: { x: 0, y, w: 24, h } });

describe('dashboard layout', () => {
  it('hides the panels of a collapsed row and moves the rest up by their height', () => {
    const panels = [p('row', 0, 1), p('timeseries', 1, 8), p('stat', 9, 4), p('row', 13, 1), p('timeseries', 14, 8)];
    expect(layout(panels, new Set()).map((x) => x.y)).toEqual([0, 1, 9, 13, 14]);
    const c = layout(panels, new Set([0]));
    expect(c.map((x) => [x.panel.title, x.y])).toEqual([
      ['row@0', 0],
      ['row@13', 1],
      ['timeseries@14', 2],
    ]);
  });
});
