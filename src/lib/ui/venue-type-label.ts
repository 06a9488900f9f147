/** A venue type's name, in the page's language or a given one. */
import { m } from '$lib/paraglide/messages.js';
import type { VenueType } from '$lib/core/venue/venue';

type Locale = 'vi' | 'en';
type Message = (inputs?: Record<string, never>, options?: { locale?: Locale }) => string;

/** In the page's language, or in a given one (a poster printed in English from a Vietnamese screen). */
export function venueTypeLabel(type: VenueType, locale?: Locale): string {
  const labels: Record<VenueType, Message> = {
    office: m.venue_type_office,
    school: m.venue_type_school,
    health: m.venue_type_health,
    market: m.venue_type_market,
    shop: m.venue_type_shop,
    food: m.venue_type_food,
    lodging: m.venue_type_lodging,
    factory: m.venue_type_factory,
    worship: m.venue_type_worship,
    transport: m.venue_type_transport,
    checkpoint: m.venue_type_checkpoint,
    other: m.venue_type_other
  };
  return labels[type]({}, locale ? { locale } : {});
}
