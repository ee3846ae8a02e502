import { describe, expect, it } from 'vitest';
import { panelChartData } from './panelData.js';
import { semanticColor } from './palette.js';

describe('colours that mean something', () => {
  it('draws server errors red and successes green whatever their position', () => {
    const grid = { start: 0, end: 10, step: 10 };
    const c = panelChartData([{ expr: 'x', legend: '{{code}}', series: [{ metric: { code: '500' }, values: [[0, '1']] }, { metric: { code: '200' }, values: [[0, '1']] }, { metric: { route: '/a' }, values: [[0, '1']] }] }], grid);
    expect(c.series.map((s) => s.color)).toEqual(['#ef4444', '#10b981', '#3b82f6']);
    expect(semanticColor({ grpc_code: 'Unavailable' })).toBe('#ef4444');
    expect(semanticColor({ status: '404' })).toBe('#f59e0b');
    expect(semanticColor({ code: 'weird' })).toBeNull();
  });
});
