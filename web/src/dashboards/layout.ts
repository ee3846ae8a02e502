import type { DashPanel } from '../api/dashboards.js';

/**
 * Grid placement of a dashboard's panels with collapsed rows: a row owns the panels after it up
 * to the next row; a collapsed row hides them and everything below moves up by their height.
 */
export interface Placed {
  panel: DashPanel;
  index: number;
  /** Index of the row panel this one belongs to, or -1. */
  row: number;
  y: number;
}

export function layout(panels: readonly DashPanel[], collapsed: ReadonlySet<number>): Placed[] {
  const out: Placed[] = [];
  let row = -1;
  let shift = 0;
  let hiddenTop = Infinity;
  let hiddenBottom = -Infinity;
  const closeSection = (nextY: number) => {
    if (hiddenTop !== Infinity) shift += Math.max(0, Math.min(nextY, hiddenBottom) - hiddenTop);
    hiddenTop = Infinity;
    hiddenBottom = -Infinity;
  };
  panels.forEach((p, i) => {
    if (p.kind === 'row') {
      closeSection(p.gridPos.y);
      row = i;
      out.push({ panel: p, index: i, row: -1, y: p.gridPos.y - shift });
      return;
    }
    if (row >= 0 && collapsed.has(row)) {
      hiddenTop = Math.min(hiddenTop, p.gridPos.y);
      hiddenBottom = Math.max(hiddenBottom, p.gridPos.y + p.gridPos.h);
      return;
    }
    out.push({ panel: p, index: i, row, y: p.gridPos.y - shift });
  });
  return out;
}
