/** The periodic background sync registration that runs the exposure check in the service worker (its own module: the page registers it without loading the check). */
export const PERIODIC_SYNC_TAG = 'lv-exposure-check';
