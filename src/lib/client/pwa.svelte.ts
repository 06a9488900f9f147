/** Service worker registration, and the "new version" prompt: an update never reloads under someone's thumb. */
class PwaManager {
  #needRefresh = $state(false);
  #offlineReady = $state(false);
  #update: ((reload?: boolean) => Promise<void>) | null = null;

  get needRefresh() {
    return this.#needRefresh;
  }
  get offlineReady() {
    return this.#offlineReady;
  }

  async start() {
    if (!('serviceWorker' in navigator)) return;
    // Marked on the document for the browser tests: the app now opens with no network.
    if (navigator.serviceWorker.controller) document.documentElement.dataset.offlineReady = '1';
    const { registerSW } = await import('virtual:pwa-register');
    this.#update = registerSW({
      immediate: true,
      onNeedRefresh: () => (this.#needRefresh = true),
      onOfflineReady: () => {
        document.documentElement.dataset.offlineReady = '1';
        this.#offlineReady = true;
        setTimeout(() => (this.#offlineReady = false), 6000);
      },
      onRegisteredSW: (_url, registration) => {
        // Look for a new version every hour while the app stays open (a station runs all day).
        if (registration) setInterval(() => void registration.update().catch(() => {}), 60 * 60 * 1000);
      }
    });
  }

  async applyUpdate() {
    this.#needRefresh = false;
    await this.#update?.(true);
  }

  dismiss() {
    this.#needRefresh = false;
    this.#offlineReady = false;
  }
}

export const pwaManager = new PwaManager();
