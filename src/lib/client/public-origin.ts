/**
 * The origin that printed posters carry (posterOrigin): the server's PUBLIC_ORIGIN, asked once a
 * page and kept for offline printing, else the page's own origin.
 */
import { posterOrigin } from '$lib/core/venue/venue-token';

const KEY = 'lv.publicOrigin';

export async function loadPosterOrigin(): Promise<{ origin: string; local: boolean }> {
  let server: string | null = localStorage.getItem(KEY);
  try {
    const res = await fetch('/api/health', { cache: 'no-store' });
    const body = (await res.json()) as { publicOrigin?: unknown };
    server = typeof body.publicOrigin === 'string' ? body.publicOrigin : null;
    if (server) localStorage.setItem(KEY, server);
    else localStorage.removeItem(KEY);
  } catch {
    // offline: the origin known from the last visit, or the page's
  }
  return posterOrigin(location.origin, server);
}
