/**
 * Bounds on waiting clients. Every phone on the unit picker and every team device holds a long-poll
 * open on `_changes`; the embedded store ignores `timeout`, so without a bound of our own they would
 * wait for ever and hold store connections that every other request needs. The gateway answers a
 * long-poll itself at its bound and lets only so many wait at once; past that, 429 with Retry-After,
 * which PouchDB's replicator takes as a reason to back off and retry.
 */
export class WaitingClients {
  #open = 0;

  constructor(readonly max: number) {}

  get open(): number {
    return this.#open;
  }

  /** A slot for one waiting client, or null when all are taken; call the returned function once when done. */
  enter(): (() => void) | null {
    if (this.#open >= this.max) return null;
    this.#open++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#open--;
    };
  }
}
