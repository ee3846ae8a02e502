/** Light and dark themes: the choice is saved; without one, the system preference applies. */

export type Theme = 'light' | 'dark';
const KEY = 'metronome.theme';
const listeners = new Set<(t: Theme) => void>();

export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

export function setTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem(KEY, t);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  for (const l of listeners) l(t);
}

export function onThemeChange(l: (t: Theme) => void): () => void {
  listeners.add(l);
  return () => void listeners.delete(l);
}

const cache = new Map<string, string>();

/**
 * A CSS variable's current value (charts read colours from the theme). Cached per theme:
 * getComputedStyle forces a style recalculation, too costly once per chart and draw.
 */
export function cssVar(name: string): string {
  const key = `${document.documentElement.dataset.theme}:${name}`;
  let v = cache.get(key);
  if (v === undefined) {
    v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    cache.set(key, v);
  }
  return v;
}
