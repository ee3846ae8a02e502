import { describe, expect, it } from 'vitest';
import { parseNotifyConfig } from './notify-config.js';
import { intervalContains, parseTimeIntervals } from './time-intervals.js';

const parse = (v: unknown) => {
  const errors: string[] = [];
  const r = parseTimeIntervals(v, ['ti'], (p, m) => errors.push(`${p.join('.')}: ${m}`));
  return { r, errors };
};
const at = (iso: string) => Date.parse(iso);

describe('time intervals', () => {
  it('match times, weekdays, days of month (negative from the end), months and years', () => {
    const { r, errors } = parse([{ times: [{ start_time: '09:00', end_time: '17:30' }], weekdays: ['monday:friday'], months: ['january:march', '12'], years: ['2024:2025'] }]);
    expect(errors).toEqual([]);
    const [ti] = r;
    expect(intervalContains(ti, at('2024-01-02T09:00:00Z'))).toBe(true); // Tuesday
    expect(intervalContains(ti, at('2024-01-02T17:30:00Z'))).toBe(false); // end is exclusive
    expect(intervalContains(ti, at('2024-01-06T10:00:00Z'))).toBe(false); // Saturday
    expect(intervalContains(ti, at('2024-04-02T10:00:00Z'))).toBe(false); // April
    expect(intervalContains(ti, at('2024-12-03T10:00:00Z'))).toBe(true);
    expect(intervalContains(ti, at('2026-01-06T10:00:00Z'))).toBe(false); // year
    const last = parse([{ days_of_month: ['-3:-1'] }]).r[0];
    expect(intervalContains(last, at('2024-02-27T00:00:00Z'))).toBe(true); // leap February: 27, 28, 29
    expect(intervalContains(last, at('2024-02-26T23:59:00Z'))).toBe(false);
    expect(intervalContains(last, at('2024-04-28T12:00:00Z'))).toBe(true);
  });

  it('are read in their location', () => {
    const { r } = parse([{ times: [{ start_time: '09:00', end_time: '10:00' }], weekdays: ['monday'], location: 'Europe/Paris' }]);
    expect(intervalContains(r[0], at('2024-01-08T08:30:00Z'))).toBe(true); // 09:30 in Paris (UTC+1)
    expect(intervalContains(r[0], at('2024-07-08T07:30:00Z'))).toBe(true); // 09:30 in Paris (UTC+2)
    expect(intervalContains(r[0], at('2024-01-08T09:30:00Z'))).toBe(false);
  });

  it('list every invalid field', () => {
    const { errors } = parse([{ times: [{ start_time: '18:00', end_time: '09:00' }], weekdays: ['friday:monday', 'funday'], days_of_month: ['0'], months: ['13'], location: 'Mars/Olympus', extra: 1 }]);
    expect(errors).toEqual([
      'ti.0.extra: unknown field "extra"',
      'ti.0.times.0: start_time must be before end_time',
      'ti.0.weekdays.0: start of weekday range "friday:monday" is after its end',
      'ti.0.weekdays.1: invalid weekday "funday"',
      'ti.0.days_of_month.0: days of the month run from 1 to 31 or -31 to -1',
      'ti.0.months.0: invalid month "13"',
      'ti.0.location: unknown location "Mars/Olympus" (use an IANA name like Europe/Paris)',
    ]);
  });

  it('are referred to by routes, which must name defined ones and not on the root', () => {
    const base = `time_intervals:\n  - name: nights\n    time_intervals: [{ times: [{ start_time: '22:00', end_time: '24:00' }] }]\nmute_time_intervals:\n  - name: weekends\n    time_intervals: [{ weekdays: [saturday, sunday] }]\nreceivers: [{ name: r }]\n`;
    const { config, warnings } = parseNotifyConfig(`${base}route:\n  receiver: r\n  routes:\n    - { matchers: ['a="1"'], mute_time_intervals: [nights, weekends], active_time_intervals: [nights] }\n`);
    expect(warnings).toEqual([]);
    expect(config.route.routes[0]).toMatchObject({ muteTimeIntervals: ['nights', 'weekends'], activeTimeIntervals: ['nights'] });
    expect(() => parseNotifyConfig(`${base}route:\n  receiver: r\n  mute_time_intervals: [nights]\n  routes:\n    - { matchers: ['a="1"'], active_time_intervals: [days] }\n`)).toThrow(
      /route\.mute_time_intervals: the root route cannot have mute_time_intervals[\s\S]*route\.routes\[0\]\.active_time_intervals\[0\]: undefined time interval "days"/,
    );
  });
});
