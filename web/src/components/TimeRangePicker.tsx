import { useEffect, useRef, useState } from 'preact/hooks';
import { describeRange, PRESETS, resolveRange, type RangeSpec } from '../chart/range.js';

/** "YYYY-MM-DDTHH:MM" in local time, for datetime-local inputs. */
function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/**
 * The time range: presets from 15 minutes to 30 days, or a custom absolute range. Also zoom out
 * (twice the span around the same centre).
 */
export function TimeRangePicker({ value, onChange }: { value: RangeSpec; onChange: (r: RangeSpec) => void }) {
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const r = resolveRange(value, Date.now());
  const [from, setFrom] = useState(toLocalInput(r.start));
  const [to, setTo] = useState(toLocalInput(r.end));
  const [err, setErr] = useState('');

  useEffect(() => {
    if (!open) return;
    const cur = resolveRange(value, Date.now());
    setFrom(toLocalInput(cur.start));
    setTo(toLocalInput(cur.end));
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
    const a = Date.parse(from);
    const b = Date.parse(to);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return setErr('Enter both times.');
    if (a >= b) return setErr('The start must be before the end.');
    onChange({ from: String(a), to: String(b) });
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
              <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field">
              <span>To</span>
              <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
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
