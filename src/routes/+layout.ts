// A static SPA: every route is prerendered, as an empty shell (pages read their query, Dexie, the
// camera in the browser) unless its +page.ts turns ssr on for the entry screens, which then paint
// from HTML and CSS before their JavaScript hydrates them.
export const ssr = false;
export const prerender = true;
export const trailingSlash = 'never';
