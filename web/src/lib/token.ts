// The access token of a protected server. It arrives once, typed into the page or in the link
// `velocitas serve` prints (http://host:8000/#token=...: a fragment never reaches a server or a
// log), and is kept for this browser tab only (sessionStorage), never in the URL.

const KEY = "velocitas.token";

let current: string | null = null;

/** The token to present, or null when none was given. */
export function getToken(): string | null {
  if (current !== null) return current;
  try {
    current = sessionStorage.getItem(KEY);
  } catch {
    current = null;
  }
  return current;
}

export function setToken(token: string | null): void {
  current = token && token.trim() ? token.trim() : null;
  try {
    if (current) sessionStorage.setItem(KEY, current);
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage refused (private mode): the token lives as long as the page
  }
}

/** Take `#token=...` out of the address (keeping the page's path) and keep it. */
export function takeTokenFromFragment(location: Location, history: History): boolean {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!match) return false;
  setToken(decodeURIComponent(match[1]));
  history.replaceState(history.state, "", location.pathname + location.search);
  return true;
}
