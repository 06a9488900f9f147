/**
 * The signed-in account on this device. Kept in localStorage so that a venue owner's or team
 * member's device keeps working offline on the data it has; the session itself is an httpOnly
 * cookie the page never sees.
 */
import { tick } from 'svelte';
import { onSessionExpired } from './session-expiry';

export interface Account {
  userId: string;
  phone: string;
  name: string;
  role: 'owner' | 'team' | 'admin';
  communes: string[];
  venueCommunes: string[];
  unit: string | null;
  /** the official's job title, for team and admin accounts */
  position?: string;
  /** signed in with a one-time password from an admin or a team: nothing else works until a new one is chosen */
  mustChangePassword?: boolean;
}

const KEY = 'lv.account';
const STATION_KEY = 'lv.station';

/** This phone is a staff station paired to one venue by its owner (server/staff): no account, no password. */
export interface StationPairing {
  deviceId: string;
  venueId: string;
  communeCode: string;
  venueName: string;
  label: string;
}

export type PairError = 'wrong_code' | 'too_many_attempts' | 'bad_code' | 'offline' | 'server';

export type AuthError = 'phone_taken' | 'wrong_credentials' | 'bad_phone' | 'weak_password' | 'too_many_attempts' | 'offline' | 'server';
const AUTH_ERRORS: readonly AuthError[] = ['phone_taken', 'wrong_credentials', 'bad_phone', 'weak_password', 'too_many_attempts'];

export type PasswordChangeError = 'wrong_password' | 'weak_password' | 'too_many_attempts' | 'not_logged_in' | 'offline' | 'server';
const PASSWORD_ERRORS: readonly PasswordChangeError[] = ['wrong_password', 'weak_password', 'too_many_attempts'];

class AccountManager {
  #account = $state<Account | null>(read());
  /** The server said the session is over (expired, logged out elsewhere): data stays, sync waits for a login. */
  #sessionExpired = $state(false);
  #station = $state<StationPairing | null>(readStation());
  /** The server no longer knows this paired phone (the owner unpaired it): entries wait, nothing syncs. */
  #stationEnded = $state(false);

  get account() {
    return this.#account;
  }
  get sessionExpired() {
    return this.#sessionExpired;
  }
  get station() {
    return this.#station;
  }
  get stationEnded() {
    return this.#stationEnded;
  }

  /**
   * Pairs this phone to a venue's station with the owner's one-time code. An owner signed in on
   * this phone is signed out first (the caller asks): a phone is one or the other.
   */
  async pairStation(code: string): Promise<PairError | null> {
    let res: Response;
    try {
      res = await fetch('/api/staff/pair', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    } catch {
      return 'offline';
    }
    const json = (await res.json().catch(() => ({}))) as Partial<StationPairing> & { error?: string };
    if (res.status === 429) return 'too_many_attempts';
    if (res.status === 404) return 'wrong_code';
    if (res.status === 400) return 'bad_code';
    if (!res.ok || !json.venueId || !json.communeCode || !json.deviceId) return 'server';
    // Another venue's data (or an owner's) has no business on this phone now.
    if (this.#account || (this.#station && this.#station.venueId !== json.venueId)) await forgetLocalData();
    this.#set(null);
    this.#setStation({ deviceId: json.deviceId, venueId: json.venueId, communeCode: json.communeCode, venueName: json.venueName ?? '', label: json.label ?? '' });
    this.#stationEnded = false;
    this.#sessionExpired = false;
    return null;
  }

  #stationCheckedAt = 0;

  /**
   * Asks the server whether this phone is still paired (the owner may have unpaired it); not again
   * within `minGapMs` (a station asks after each scan, and a queue scans every few seconds).
   */
  async checkStation(minGapMs = 0): Promise<void> {
    if (!this.#station || Date.now() - this.#stationCheckedAt < minGapMs) return;
    this.#stationCheckedAt = Date.now();
    try {
      const res = await fetch('/api/staff/station', { cache: 'no-store' });
      if (res.status === 401) this.#stationEnded = true;
      else if (res.ok) {
        const json = (await res.json()) as StationPairing;
        this.#stationEnded = false;
        this.#setStation({ ...this.#station, venueName: json.venueName || this.#station.venueName, label: json.label });
      }
    } catch {
      // offline: the station keeps recording, entries wait on the phone
    }
  }

  /** This phone stops being a station: its pairing ends on the server (when reachable) and its copy of the venue goes. */
  async leaveStation(): Promise<void> {
    await fetch('/api/staff/station', { method: 'DELETE' }).catch(() => {});
    await forgetLocalData();
    this.#setStation(null);
    this.#stationEnded = false;
  }

  #setStation(station: StationPairing | null) {
    this.#station = station;
    if (station) localStorage.setItem(STATION_KEY, JSON.stringify(station));
    else localStorage.removeItem(STATION_KEY);
  }

  async register(phone: string, password: string, name: string): Promise<AuthError | null> {
    return this.#auth('/api/auth/register', { phone, password, name });
  }

  async login(phone: string, password: string): Promise<AuthError | null> {
    return this.#auth('/api/auth/login', { phone, password });
  }

  async #auth(url: string, body: object): Promise<AuthError | null> {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch {
      return 'offline';
    }
    const json = (await res.json().catch(() => ({}))) as Partial<Account> & { error?: AuthError };
    // An answer this page has no words for is shown as a server problem, never as nothing.
    if (!res.ok) return json.error && AUTH_ERRORS.includes(json.error) ? json.error : 'server';
    // Another account on this device: its data is not this one's (nor a paired station's).
    if ((this.#account && this.#account.userId !== json.userId) || this.#station) await forgetLocalData();
    this.#setStation(null);
    this.#set(json as Account);
    this.#sessionExpired = false;
    return null;
  }

  /** Refreshes the account from the server when online (role, scope, venue communes). */
  async refresh(): Promise<void> {
    if (!this.#account) return;
    try {
      const res = await fetch('/api/auth/me');
      if (res.status === 401) this.#sessionExpired = true;
      else if (res.ok) {
        const server = (await res.json()) as Account;
        // Venues made offline are not on the server yet: keep their communes.
        const local = this.#account?.userId === server.userId ? this.#account.venueCommunes : [];
        this.#set({ ...server, venueCommunes: [...new Set([...server.venueCommunes, ...local])].sort() });
      }
    } catch {
      // offline: keep working with what we know
    }
  }

  markSessionExpired() {
    this.#sessionExpired = true;
    // A paired phone has no login to go back to: its pairing is over.
    if (this.#station && !this.#account) this.#stationEnded = true;
  }

  /** Adds a commune to the owner's list at once (a venue made offline), before the server knows. */
  noteVenueCommune(code: string) {
    if (this.#account && !this.#account.venueCommunes.includes(code)) this.#set({ ...this.#account, venueCommunes: [...this.#account.venueCommunes, code] });
  }

  /**
   * Changes the password: the server ends every other session and gives this device a new one, so
   * it stays signed in.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<PasswordChangeError | null> {
    let res: Response;
    try {
      res = await fetch('/api/auth/password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ currentPassword, newPassword }) });
    } catch {
      return 'offline';
    }
    const json = (await res.json().catch(() => ({}))) as Partial<Account> & { error?: PasswordChangeError };
    if (res.status === 401) {
      this.#sessionExpired = true;
      return 'not_logged_in';
    }
    if (!res.ok) return json.error && PASSWORD_ERRORS.includes(json.error) ? json.error : 'server';
    const local = this.#account;
    // Venues made offline are not on the server yet: keep their communes (as refresh() does).
    if (local && json.userId === local.userId) this.#set({ ...(json as Account), venueCommunes: [...new Set([...(json.venueCommunes ?? []), ...local.venueCommunes])].sort() });
    this.#sessionExpired = false;
    return null;
  }

  /** Ends every session of this account on the server (a lost phone), then signs this device out as logout() does. */
  async logoutEverywhere(): Promise<'not_logged_in' | 'offline' | 'server' | null> {
    let res: Response;
    try {
      res = await fetch('/api/auth/logout-all', { method: 'POST' });
    } catch {
      return 'offline';
    }
    if (res.status === 401) {
      // The server needs a live session to know whose sessions to end.
      this.#sessionExpired = true;
      return 'not_logged_in';
    }
    if (!res.ok) return 'server';
    this.#set(null);
    await tick();
    await forgetLocalData();
    return null;
  }

  /**
   * Signs this device out and removes the account's shared data from it (commune replicas and the
   * notes kept about them). The account goes first, so that every screen showing that data closes
   * its views of it before the databases are destroyed under them. Offline, the server's session
   * stays until it expires; the device forgets it all the same.
   */
  async logout(): Promise<void> {
    await fetch('/api/auth/logout', { method: 'POST' }).catch(() => {});
    this.#set(null);
    this.#sessionExpired = false;
    await tick();
    await forgetLocalData();
  }

  #set(account: Account | null) {
    this.#account = account;
    if (account) localStorage.setItem(KEY, JSON.stringify(account));
    else localStorage.removeItem(KEY);
  }
}

function readStation(): StationPairing | null {
  try {
    return JSON.parse(localStorage.getItem(STATION_KEY) ?? 'null') as StationPairing | null;
  } catch {
    return null;
  }
}

function read(): Account | null {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? 'null') as Account | null;
  } catch {
    return null;
  }
}

/** Removes the replicas of shared data (not the citizen's own diary, which belongs to the person, not the account). */
async function forgetLocalData(): Promise<void> {
  const { destroyReplicas } = await import('./replicas.svelte');
  await destroyReplicas();
}

export const accountManager = new AccountManager();
// A sync refused for want of a session (replicas hear the 401) asks for a login here.
onSessionExpired(() => accountManager.markSessionExpired());

/**
 * The commune a team screen is about: `?c=` in its address, else the member's first commune. An
 * address without it (a bookmark, one typed by hand) would otherwise show a commune of nobody:
 * "no venues yet", "no cases", "not a team account", all untrue.
 */
export function teamCommune(url: URL): string {
  const asked = url.searchParams.get('c');
  if (asked) return asked;
  const account = accountManager.account;
  return account?.role === 'team' ? (account.communes[0] ?? '') : '';
}
