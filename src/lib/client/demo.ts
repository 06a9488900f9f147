/** The demo venues a fresh install seeds (`/api/demo`), for newcomers to try check-in and posters. */
import { isVenueType, type DemoVenue } from '$lib/core/venue/venue';

export type { DemoVenue };

/** Null when the server has demo data turned off or cannot be reached. */
export async function fetchDemoVenues(): Promise<DemoVenue[] | null> {
  try {
    const res = await fetch('/api/demo');
    if (!res.ok) return null;
    const list = ((await res.json()) as { venues: Partial<DemoVenue>[] }).venues;
    return list
      .filter((v): v is Partial<DemoVenue> & Pick<DemoVenue, 'venueId' | 'name' | 'url' | 'venueType'> => isVenueType(v.venueType) && typeof v.url === 'string' && typeof v.name === 'string' && typeof v.venueId === 'string')
      .map((v) => ({ ...v, address: v.address ?? '', communeLabel: v.communeLabel ?? '', fallbackUrl: v.fallbackUrl ?? '' }));
  } catch {
    return null;
  }
}
