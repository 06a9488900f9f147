import { onMount } from 'svelte';

/**
 * Whether the page runs in the browser yet. Prerendered screens paint before their JavaScript, from
 * HTML made at build time that knows nothing of this phone (its account, its diary): what depends on
 * them shows a loading state until this is true, so the first paint never says something false
 * (a sign-in form to someone signed in, "no visits" before the diary was read). Call it during
 * component setup; the server render and the hydration both see false, so the two agree.
 */
export function hydrated(): { readonly current: boolean } {
  let done = $state(false);
  onMount(() => {
    done = true;
  });
  return {
    get current() {
      return done;
    }
  };
}
