// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {
    interface PageState {
      /** the visit the check-in page shows after the code left the address bar */
      visitId?: string;
      repeated?: boolean;
      /** visits the check-in closed (one place at a time), for the message and its undo */
      closed?: import('$lib/core/citizen/visit').Closure[];
    }
  }
}
export {};
