import type { ComponentType } from 'preact';
import type { Annotation, DashPanel } from '../api/dashboards.js';
import type { PanelQueryResult } from '../chart/panelData.js';

/** What a panel kind module gets: its panel, the data of its queries, and the view around it. */
export interface PanelProps {
  panel: DashPanel;
  /** One result per (non-hidden) query; range queries for every kind but table (instant). */
  results: PanelQueryResult[];
  grid: { start: number; end: number; step: number };
  annotations: Annotation[];
  syncKey: string;
  onZoom: (min: number, max: number) => void;
  /** Pixel height the grid gives the panel body. */
  height: number;
  /** Called by kinds that draw after their commit (timeseries: uPlot) with series drawn and ms spent. */
  onDrawn?: (series: number, renderMs: number) => void;
}

/** A panel kind: the data shape it needs and the component that draws it. */
export interface PanelModule {
  data: 'range' | 'instant' | 'none';
  Component: ComponentType<PanelProps>;
}
