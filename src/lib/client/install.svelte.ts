/** The install state of the PWA, and the browser's install prompt when it offers one. */
interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

class InstallManager {
  #prompt = $state<BeforeInstallPromptEvent | null>(null);
  #installed = $state(false);
  #ios = $state(false);

  get canPrompt() {
    return this.#prompt !== null;
  }
  get installed() {
    return this.#installed;
  }
  /** iOS Safari never fires beforeinstallprompt: the UI explains the Share menu instead. */
  get iosHint() {
    return this.#ios && !this.#installed;
  }

  start() {
    this.#installed = matchMedia('(display-mode: standalone)').matches || (navigator as { standalone?: boolean }).standalone === true;
    this.#ios = /iphone|ipad|ipod/i.test(navigator.userAgent);
    addEventListener('beforeinstallprompt', (e) => {
      e.preventDefault();
      this.#prompt = e as BeforeInstallPromptEvent;
    });
    addEventListener('appinstalled', () => {
      this.#installed = true;
      this.#prompt = null;
    });
  }

  async install() {
    const prompt = this.#prompt;
    if (!prompt) return;
    this.#prompt = null;
    await prompt.prompt();
    const { outcome } = await prompt.userChoice;
    if (outcome === 'accepted') this.#installed = true;
  }
}

export const installManager = new InstallManager();
