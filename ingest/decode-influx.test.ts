import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldKey, InfluxDecoder, precisionOf } from './decode-influx.js';
import { influxLabelName as labelName } from './names.js';
import { IssueList } from './validate.js';

const NOW = 1_700_000_000_000;
const ns = precisionOf('ns')!;

function decode(text: string, precision = ns) {
  const issues = new IssueList();
  const r = new InfluxDecoder().decode(text, precision, NOW, issues);
  const points = r.batch.series.flatMap((s) =>
    Array.from(s.timestamps, (t, i) => ({ key: s.key, tags: s.tags, ts: t, value: s.values[i] })),
  );
  return { ...r, issues: issues.items, points };
}

describe('influx line protocol decoding', () => {
  it('maps measurement + field to measurement_field and tags to tags', () => {
    const { points, issues } = decode('cpu,host=a,region=eu usage_user=1.5,usage_idle=98 1700000000000000000');
    expect(issues).toEqual([]);
    expect(points).toEqual([
      { key: 'cpu_usage_user', tags: { host: 'a', region: 'eu' }, ts: 1_700_000_000_000, value: 1.5 },
      { key: 'cpu_usage_idle', tags: { host: 'a', region: 'eu' }, ts: 1_700_000_000_000, value: 98 },
    ]);
  });

  it('names a field called value after the measurement alone', () => {
    expect(decode('temperature,room=kitchen value=21.5 1').points[0].key).toBe('temperature');
  });

  it('stores integers, unsigned integers and booleans as numbers', () => {
    const { points, issues } = decode('m i=-42i,u=42u,t=t,T=TRUE,tr=true,f=F,fa=false,Fa=False,e=1.5e3,d=.5,z=-0 1');
    expect(issues).toEqual([]);
    expect(Object.fromEntries(points.map((p) => [p.key.slice(2), p.value]))).toEqual({
      i: -42,
      u: 42,
      t: 1,
      T: 1,
      tr: 1,
      f: 0,
      fa: 0,
      Fa: 0,
      e: 1500,
      d: 0.5,
      z: -0,
    });
  });

  it("applies the spec's escaping rules for measurements, tag keys, tag values and field keys", () => {
    const text = [
      'my\\ Measurement fieldKey=1 1',
      'cpu\\,01,host=server01 usage=0.5 1',
      'myMeasurement,tag\\ Key1=tag\\ Value1,tag\\ Key2=tag\\ Value2 fieldKey=100 1',
      'weather,location\\ place=us\\ midwest,season\\=x=sum\\,mer temp\\=rature=82 1',
      'weather,path=C:\\dir\\file level=3 1',
      'myMeasurement,tagKey=🍭 fieldKey=7 1',
    ].join('\n');
    const { points, issues } = decode(text);
    expect(issues).toEqual([]);
    expect(points.map((p) => [p.key, p.tags, p.value])).toEqual([
      ['my_Measurement_fieldKey', {}, 1],
      ['cpu_01_usage', { host: 'server01' }, 0.5],
      ['myMeasurement_fieldKey', { tag_Key1: 'tag Value1', tag_Key2: 'tag Value2' }, 100],
      // "season=x" becomes the tag name season_x; its value keeps the escaped comma.
      ['weather_temp_rature', { location_place: 'us midwest', season_x: 'sum,mer' }, 82],
      // A backslash before an ordinary character is kept.
      ['weather_level', { path: 'C:\\dir\\file' }, 3],
      ['myMeasurement_fieldKey', { tagKey: '🍭' }, 7],
    ]);
  });

  it('rejects string fields with the line number, even with escaped quotes and spaces inside', () => {
    const text = ['m a=1 1', 'm fieldKey="\\"string\\" within a string" 1', 'm b="Launch 🚀",c=2 1', 'm backslash="\\\\" 1'].join('\n');
    const { issues, points } = decode(text);
    expect(issues.map((i) => [i.code, i.line, i.field])).toEqual([
      ['MTR_WRITE_INFLUX_STRING_FIELD', 2, 'fieldKey'],
      ['MTR_WRITE_INFLUX_STRING_FIELD', 3, 'b'],
      ['MTR_WRITE_INFLUX_STRING_FIELD', 4, 'backslash'],
    ]);
    expect(points).toHaveLength(1);
  });

  it('converts every precision to milliseconds, truncating finer digits', () => {
    const at = (p: string, ts: string) => decode(`m v=1 ${ts}`, precisionOf(p)!).points[0].ts;
    expect(at('ns', '1700000000123456789')).toBe(1_700_000_000_123);
    expect(at('n', '1700000000123456789')).toBe(1_700_000_000_123);
    expect(at('us', '1700000000123456')).toBe(1_700_000_000_123);
    expect(at('u', '1700000000123456')).toBe(1_700_000_000_123);
    expect(at('ms', '1700000000123')).toBe(1_700_000_000_123);
    expect(at('s', '1700000000')).toBe(1_700_000_000_000);
    expect(at('m', '28333333')).toBe(28_333_333 * 60_000);
    expect(at('h', '472222')).toBe(472_222 * 3_600_000);
    expect(at('ns', '999')).toBe(0);
    expect(precisionOf('fortnight')).toBeUndefined();
    expect(precisionOf(undefined)).toBe(ns);
  });

  it("gives lines without a timestamp the request's time", () => {
    expect(decode('m v=1').points[0].ts).toBe(NOW);
    expect(decode('m v=1   ').points[0].ts).toBe(NOW);
  });

  it('skips comments, blank lines and CRLF endings', () => {
    const { points, issues, lineCount } = decode('# a comment\r\n\r\nm v=1 5000000\r\n   \n  m v=2 6000000\n');
    expect(issues).toEqual([]);
    expect(lineCount).toBe(2);
    expect(points.map((p) => [p.ts, p.value])).toEqual([
      [5, 1],
      [6, 2],
    ]);
  });

  it('groups the points of one series across lines', () => {
    const { batch } = decode('m,h=a v=1 1000000\nm,h=b v=1 1000000\nm,h=a v=2 2000000');
    expect(batch.series.map((s) => [s.tags.h, Array.from(s.timestamps), Array.from(s.values)])).toEqual([
      ['a', [1, 2], [1, 2]],
      ['b', [1], [1]],
    ]);
    expect(batch.points).toBe(3);
  });

  it('reports every malformed line with its number and stores nothing from them', () => {
    const text = [
      'ok v=1 1',
      'nofields',
      'm v= 1',
      'm v=abc 1',
      'm v=1 12abc',
      'm,host v=1 1',
      'm,host= v=1 1',
      ',host=a v=1 1',
      'm v=1i5 1',
      'm v=-3u 1',
      'm v=NaN 1',
      'm =1 1',
      'm,a-b=1,a_b=2 v=1 1',
      'm,__name__=x v=1 1',
      'm v=99999999999999999999i 1',
    ].join('\n');
    const { issues, points } = decode(text);
    expect(points).toHaveLength(1);
    expect(issues.map((i) => [i.line, i.code])).toEqual([
      [2, 'MTR_WRITE_INFLUX_SYNTAX'],
      [3, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [4, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [5, 'MTR_WRITE_INFLUX_TIMESTAMP'],
      [6, 'MTR_WRITE_INFLUX_SYNTAX'],
      [7, 'MTR_WRITE_INFLUX_SYNTAX'],
      [8, 'MTR_WRITE_INFLUX_SYNTAX'],
      [9, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [10, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [11, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [12, 'MTR_WRITE_INFLUX_SYNTAX'],
      [13, 'MTR_WRITE_INFLUX_TAG'],
      [14, 'MTR_WRITE_INFLUX_TAG'],
      [15, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
    ]);
    for (const i of issues) expect(i.message).toMatch(new RegExp(`^line ${i.line}: `));
  });

  it('reuses parsed series across requests without mixing their points', () => {
    const d = new InfluxDecoder();
    const a = d.decode('m,h=a v=1 1000000', ns, NOW, new IssueList());
    const b = d.decode('m,h=a v=2 2000000\nm,h=a w=3 2000000', ns, NOW, new IssueList());
    expect(a.batch.series.map((s) => [s.key, Array.from(s.values)])).toEqual([['m_v', [1]]]);
    expect(b.batch.series.map((s) => [s.key, Array.from(s.values)])).toEqual([
      ['m_v', [2]],
      ['m_w', [3]],
    ]);
    expect(b.batch.series[0].tags).toBe(a.batch.series[0].tags);
  });

  it('makes keys and tag names PromQL-safe', () => {
    expect(fieldKey('cpu.load', 'avg-1m')).toBe('cpu_load_avg_1m');
    expect(fieldKey('9lives', 'value')).toBe('_9lives');
    expect(fieldKey('http', 'requests:rate')).toBe('http_requests:rate');
    expect(labelName('host.name')).toBe('host_name');
    expect(labelName('1st')).toBe('_1st');
  });
});

describe('influx field value parsing', () => {
  it('parses every decimal exactly as Number() does', () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^\d{1,12}$/), fc.option(fc.stringMatching(/^\d{0,10}$/)))
      .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === null ? '' : '.' + frac}`);
    fc.assert(
      fc.property(fc.oneof(decimal, fc.double({ noNaN: true, noDefaultInfinity: true }).map(String)), (text) => {
        const { points, issues } = decode(`m v=${text} 1`);
        expect(issues).toEqual([]);
        expect(Object.is(points[0].value, Number(text))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('parses integers and unsigned integers of any size up to 64 bits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n) + 1n, max: 2n ** 63n - 1n }), (n) => {
        expect(decode(`m v=${n}i 1`).points[0].value).toBe(Number(n));
        if (n >= 0n) expect(decode(`m v=${n}u 1`).points[0].value).toBe(Number(n));
      }),
      { numRuns: 1000 },
    );
  });
});
