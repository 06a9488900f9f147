// A static SPA: the shell is prerendered, pages render in the browser (Dexie and the scanner need it).
export const ssr = false;
export const prerender = true;
export const trailingSlash = 'never';
