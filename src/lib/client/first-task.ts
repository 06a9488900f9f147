/**
 * What the app starts in the background (the service worker, the key list, the diary's housekeeping)
 * waits for the page's first task when the page has one: on a cold check-in link, the visit saved.
 * On 2G every byte fetched before that is a second longer at the door.
 */
let release!: () => void;
const done = new Promise<void>((resolve) => (release = resolve));
let held = false;

/** Called by a page during its setup: background work waits until the returned function is called. */
export function holdBackground(): () => void {
  held = true;
  return release;
}

/** Resolves when background work may start: at once unless the page holds it. */
export function backgroundMayStart(): Promise<void> {
  if (!held) release();
  return done;
}
