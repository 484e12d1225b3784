/** Light, dark, or the system's: kept on this device, applied before first paint by main.tsx. */
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'baton.theme';

export function savedTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
