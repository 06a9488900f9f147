import type { Handle } from '@sveltejs/kit';

/**
 * Runs when the entry screens are prerendered (there is no server-side rendering at run time).
 * SvelteKit writes a page's stylesheets after its forty-odd module preloads; over HTTP/1.1 a phone
 * has six connections, and the stylesheets, which alone hold back the first paint, queued behind
 * JavaScript that does not. Moved first, the page paints as soon as its CSS is in.
 */
const STYLESHEET = /[ \t]*<link href="[^"]+" rel="stylesheet">\n?/g;

export function stylesheetsFirst(html: string): string {
  const sheets = html.match(STYLESHEET);
  const first = html.search(/[ \t]*<link href="[^"]+" rel="modulepreload">/);
  if (!sheets || first < 0) return html;
  const rest = html.replace(STYLESHEET, '');
  const at = rest.search(/[ \t]*<link href="[^"]+" rel="modulepreload">/);
  return rest.slice(0, at) + sheets.map((s) => (s.endsWith('\n') ? s : s + '\n')).join('') + rest.slice(at);
}

export const handle: Handle = ({ event, resolve }) => resolve(event, { transformPageChunk: ({ html }) => stylesheetsFirst(html) });
