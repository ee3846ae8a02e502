import { useEffect, useRef, useState } from 'preact/hooks';
import { describeRange, parseTimeSpec, PRESETS, resolveRange, type RangeSpec } from '../chart/range.js';

/** "YYYY-MM-DD HH:MM" in local time. */
function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

const RELATIVE = /^now(-\d+[smhdw])?$/;

/** What a custom range field shows: a relative time as typed (now-90m), else the local time. */
function fieldValue(spec: string, ms: number): string {
  return RELATIVE.test(spec) ? spec : toLocalInput(ms);
}

/**
 * A typed time: `now`, `now-90m` (s, m, h, d, w) kept relative, or a local date and time
 * (`2026-12-02 10:30`, seconds optional) as unix ms. Null when it is neither.
 */
function parseFieldTime(v: string): string | null {
  const t = v.trim();
  if (RELATIVE.test(t)) return t;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (!m) return null;
  const ms = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0)).getTime();
  return Number.isFinite(ms) ? String(ms) : null;
}

/**
 * The time range: presets from 15 minutes to 30 days, or a custom absolute range. Also zoom out
 * (twice the span around the same centre).
 */
export function TimeRangePicker({ value, onChange }: { value: RangeSpec; onChange: (r: RangeSpec) => void }) {
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const r = resolveRange(value, Date.now());
  const [from, setFrom] = useState(fieldValue(value.from, r.start));
  const [to, setTo] = useState(fieldValue(value.to, r.end));
  const [err, setErr] = useState('');

  useEffect(() => {
    if (!open) return;
    const cur = resolveRange(value, Date.now());
    setFrom(fieldValue(value.from, cur.start));
    setTo(fieldValue(value.to, cur.end));
    setErr('');
    const onDoc = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', onDoc);
    document.addEventListener('keydown', onKey);
    (wrap.current?.querySelector('.popover button[aria-current="true"], .popover button') as HTMLElement | null)?.focus();
    return () => {
      document.removeEventListener('mousedown', onDoc);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const apply = (e: Event) => {
    e.preventDefault();
    const a = parseFieldTime(from);
    const b = parseFieldTime(to);
    if (a === null || b === null) return setErr('Enter each time as now, now-90m (s, m, h, d, w) or YYYY-MM-DD HH:MM.');
    const now = Date.now();
    if (parseTimeSpec(a, now)! >= parseTimeSpec(b, now)!) return setErr('The start must be before the end.');
    onChange({ from: a, to: b });
    setOpen(false);
  };

  const zoomOut = () => {
    const span = r.end - r.start;
    const now = Date.now();
    const end = Math.min(now, r.end + span / 2);
    const start = end - span * 2;
    const preset = PRESETS.find((p) => Math.abs(resolveRange({ from: p.from, to: 'now' }, now).start - start) < span * 0.05);
    onChange(end >= now - 1000 && preset ? { from: preset.from, to: 'now' } : { from: String(Math.round(start)), to: String(Math.round(end)) });
  };

  return (
    <div class="popover-wrap controls" ref={wrap}>
      <button type="button" class="icon" onClick={zoomOut} title="Zoom out (twice the span)" aria-label="Zoom out">
        −
      </button>
      <button type="button" aria-haspopup="dialog" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="range-button">
        <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
          <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.5" />
          <path d="M8 4v4l3 2" fill="none" stroke="currentColor" stroke-width="1.5" />
        </svg>
        {describeRange(value)}
      </button>
      {open ? (
        <div class="popover" role="dialog" aria-label="Time range">
          <ul>
            {PRESETS.map((p) => (
              <li key={p.from}>
                <button
                  type="button"
                  aria-current={value.to === 'now' && value.from === p.from ? 'true' : undefined}
                  onClick={() => {
                    onChange({ from: p.from, to: 'now' });
                    setOpen(false);
                  }}
                >
                  {p.label}
                </button>
              </li>
            ))}
          </ul>
          <form onSubmit={apply}>
            <strong>Custom range</strong>
            <label class="field">
              <span>From</span>
              <input type="text" name="from" placeholder="now-90m or 2026-01-31 09:00" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field">
              <span>To</span>
              <input type="text" name="to" placeholder="now" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
            </label>
            {err ? (
              <div class="error-box" role="alert">
                {err}
              </div>
            ) : null}
            <button type="submit" class="primary">
              Apply
            </button>
          </form>
        </div>
      ) : null}
    </div>
  );
}

export const REFRESH_OPTIONS: { value: string; label: string; ms: number }[] = [
  { value: 'off', label: 'Off', ms: 0 },
  { value: '10s', label: '10 s', ms: 10_000 },
  { value: '30s', label: '30 s', ms: 30_000 },
  { value: '1m', label: '1 min', ms: 60_000 },
  { value: '5m', label: '5 min', ms: 300_000 },
];

/** Auto-refresh interval; only meaningful for ranges that end "now". */
export function RefreshPicker({ value, onChange, disabled }: { value: string; onChange: (v: string) => void; disabled?: boolean }) {
  return (
    <label class="controls" title={disabled ? 'Auto-refresh applies to ranges ending now' : 'Auto-refresh'}>
      <span class="visually-hidden">Auto-refresh</span>
      <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
        <path d="M13 8a5 5 0 1 1-1.5-3.5M13 2v3h-3" fill="none" stroke="currentColor" stroke-width="1.5" />
      </svg>
      <select value={value} disabled={disabled} onChange={(e) => onChange((e.target as HTMLSelectElement).value)} aria-label="Auto-refresh interval">
        {REFRESH_OPTIONS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}
