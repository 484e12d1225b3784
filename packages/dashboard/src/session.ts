/**
 * Where the signed-in token lives: this tab's sessionStorage by default (gone when the tab
 * closes), localStorage only when the user asks to be remembered. A `#token=` fragment (what
 * `baton dev` prints) signs in once and is wiped from the address bar at once: fragments never
 * reach a server or its logs.
 */
const KEY = 'baton.token';

export function takeTokenFromFragment(): string | null {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match?.[1]) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

export function storeToken(token: string, remember: boolean): void {
  forgetToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}
