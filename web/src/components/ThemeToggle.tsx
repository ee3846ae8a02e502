import { useEffect, useState } from 'preact/hooks';
import { currentTheme, onThemeChange, setTheme } from '../theme.js';

export function ThemeToggle() {
  const [theme, set] = useState(currentTheme());
  useEffect(() => onThemeChange(set), []);
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button class="icon" type="button" onClick={() => setTheme(next)} aria-label={`Switch to ${next} theme`} title={`Switch to ${next} theme`}>
      {theme === 'dark' ? (
        <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
          <circle cx="8" cy="8" r="3.2" fill="currentColor" />
          <g stroke="currentColor" stroke-width="1.4" stroke-linecap="round">
            <path d="M8 1v2M8 13v2M1 8h2M13 8h2M3 3l1.4 1.4M11.6 11.6 13 13M3 13l1.4-1.4M11.6 4.4 13 3" />
          </g>
        </svg>
      ) : (
        <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
          <path d="M13.5 10.2A6 6 0 0 1 5.8 2.5a6 6 0 1 0 7.7 7.7z" fill="currentColor" />
        </svg>
      )}
    </button>
  );
}
