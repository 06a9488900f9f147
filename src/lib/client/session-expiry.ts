/**
 * "The server refused this session" as news: replicas hear it from the gateway (401), the account
 * acts on it. A message in between, so that the two modules need not import each other.
 */
const listeners = new Set<() => void>();

export function onSessionExpired(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function reportSessionExpired(): void {
  for (const listener of listeners) listener();
}
