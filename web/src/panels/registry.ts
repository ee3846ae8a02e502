import type { PanelKind } from '../api/dashboards.js';
import { bargauge } from './bargauge.js';
import { gauge } from './gauge.js';
import { heatmap } from './heatmap.js';
import { stat } from './stat.js';
import { table } from './table.js';
import { text } from './text.js';
import { timeseries } from './timeseries.js';
import type { PanelModule } from './types.js';

/**
 * Panel kinds, one module each (server/dashboards/panel-kinds.ts holds their options schemas).
 * Rows are drawn by the dashboard page itself. The whole set loads with the dashboard page, not
 * in the initial bundle.
 */
export const PANELS: Record<Exclude<PanelKind, 'row'>, PanelModule> = { timeseries, stat, gauge, bargauge, table, heatmap, text };
