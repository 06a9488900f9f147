/**
 * Signed venue codes (the QR on a venue's poster).
 *
 * The poster holds an https URL of this deployment, `<origin>/c#<token>`, so that any phone camera
 * opens the PWA, and the token stays in the fragment, which browsers never send to a server.
 *
 * Token (all decimal digits, so the whole fragment is one QR numeric-mode segment):
 *
 *   "1"            format version
 *   keyId          4 digits: which server key signed it (keys rotate; phones cache several)
 *   body           base10(payload ‖ signature), see base10.ts
 *     payload      UTF-8 of the compact JSON array [venueId, name, communeCode, venueTypeCode]
 *     signature    64 bytes, Ed25519 over "LV1:" + keyId + ":" + payload
 *
 * DESIGN §6 first described `1.<keyId>.<base64url payload>.<base64url signature>`. With a 60-character
 * Vietnamese name that text needs a version 11 QR at level M; in numeric mode the same
 * content fits version 10 (see venue-token.test.ts), so the code stays readable from a metre away.
 */
import { verifyEd25519 } from '../ed25519';
import { digitsToBytes } from '../base10';
import { VENUE_ID_PATTERN, VENUE_NAME_MAX, UNIT_CODE_PATTERN, venueTypeCode, venueTypeFromCode, type VenueType } from './venue';

export const TOKEN_FORMAT_VERSION = '1';
export const KEY_ID_PATTERN = /^[1-9][0-9]{3}$/;
/**
 * Longest token there can be: an 80-letter name of three-byte letters, the other claims and the
 * signature make under 900 digits (a venue document stores at most 1000). Longer digit strings are
 * refused before they are decoded and read as JSON: a megabyte of digits in a link is no token.
 */
export const MAX_TOKEN_DIGITS = 1000;
export const SIGNATURE_BYTES = 64;
/** The path of the check-in page; the token follows in the fragment. */
export const CHECKIN_PATH = '/c';

export interface VenueClaims {
  venueId: string;
  name: string;
  communeCode: string;
  venueType: VenueType;
}

export interface SigningKey {
  id: string;
  secretKey: Uint8Array;
}

export interface PublicKey {
  id: string;
  publicKey: Uint8Array;
  /**
   * Set when the key was revoked (src/lib/core/keys.ts): the day from which nothing it signed is
   * trusted by itself. Its venue codes verify only when listed among the genuine ones.
   */
  revokedFrom?: string;
  /**
   * For a revoked key: the digests (codeDigest) of the genuine codes it signed in a commune, as
   * the server lists them; null when the list cannot be had now (offline). Given by the phone's key
   * cache (src/lib/client/keys.ts), which fetches one commune's list when a code needs it.
   */
  genuine?: (communeCode: string) => Promise<ReadonlySet<string> | null>;
}

/** A token's payload as signed: venue id, name, commune code, venue type code. */
export type ClaimsTuple = [venueId: string, name: string, communeCode: string, typeCode: number];

/**
 * The payload's claims when they are well formed (the name trimmed), else what is wrong with them.
 * Hand-written, not a schema: this runs on the cold check-in path, where a schema library's bytes
 * cost a slow link more than the check itself (bench/checkin.mjs).
 */
export function checkClaimsTuple(json: unknown): { ok: true; claims: ClaimsTuple } | { ok: false; problem: string } {
  if (!Array.isArray(json) || json.length !== 4) return { ok: false, problem: 'not a list of 4 claims' };
  const [venueId, name, communeCode, typeCode] = json as unknown[];
  if (typeof venueId !== 'string' || !VENUE_ID_PATTERN.test(venueId)) return { ok: false, problem: 'venue id' };
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed.length < 1 || trimmed.length > VENUE_NAME_MAX) return { ok: false, problem: `name (1 to ${VENUE_NAME_MAX} characters)` };
  if (typeof communeCode !== 'string' || !UNIT_CODE_PATTERN.test(communeCode)) return { ok: false, problem: 'commune code' };
  if (typeof typeCode !== 'number' || !Number.isInteger(typeCode)) return { ok: false, problem: 'venue type code' };
  return { ok: true, claims: [venueId, trimmed, communeCode, typeCode] };
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function signedMessage(keyId: string, payload: Uint8Array): Uint8Array {
  const prefix = utf8.encode(`LV${TOKEN_FORMAT_VERSION}:${keyId}:`);
  const message = new Uint8Array(prefix.length + payload.length);
  message.set(prefix);
  message.set(payload, prefix.length);
  return message;
}

export function encodeClaims(claims: VenueClaims): Uint8Array {
  return utf8.encode(
    JSON.stringify([claims.venueId, claims.name.normalize('NFC'), claims.communeCode, venueTypeCode(claims.venueType)])
  );
}

export function checkinUrl(origin: string, token: string): string {
  return `${origin.replace(/\/+$/, '')}${CHECKIN_PATH}#${token}`;
}

/**
 * Whether an origin names this machine only (localhost, 127.x, ::1, 0.0.0.0): a poster printed with
 * it sends every phone that scans it to the phone itself, where nothing answers.
 */
export function isLocalOrigin(origin: string): boolean {
  let host: string;
  try {
    host = new URL(origin).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]' || host === '0.0.0.0';
}

/**
 * The origin a poster prints: the deployment's PUBLIC_ORIGIN when the server has one (the page may
 * be open through another name, e.g. localhost on the operator's machine), else the page's own.
 */
export function posterOrigin(pageOrigin: string, serverOrigin: string | null): { origin: string; local: boolean } {
  const origin = (serverOrigin ?? pageOrigin).replace(/\/+$/, '');
  return { origin, local: isLocalOrigin(origin) };
}

export type ParsedToken =
  | { ok: true; keyId: string; claims: VenueClaims; message: Uint8Array; signature: Uint8Array }
  | { ok: false; reason: 'not-a-token' | 'unknown-version' | 'damaged' };

/** Reads a token without checking its signature; verifyVenueToken decides whether to trust it. */
export function parseVenueToken(token: string): ParsedToken {
  const text = token.trim();
  if (!/^[0-9]+$/.test(text)) return { ok: false, reason: 'not-a-token' };
  if (text[0] !== TOKEN_FORMAT_VERSION) return { ok: false, reason: 'unknown-version' };
  if (text.length > MAX_TOKEN_DIGITS) return { ok: false, reason: 'damaged' };
  const keyId = text.slice(1, 5);
  if (!KEY_ID_PATTERN.test(keyId)) return { ok: false, reason: 'damaged' };
  const body = digitsToBytes(text.slice(5));
  if (!body || body.length <= SIGNATURE_BYTES) return { ok: false, reason: 'damaged' };
  const payload = body.subarray(0, body.length - SIGNATURE_BYTES);
  const signature = body.subarray(body.length - SIGNATURE_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(utf8Strict.decode(payload));
  } catch {
    return { ok: false, reason: 'damaged' };
  }
  const tuple = checkClaimsTuple(json);
  if (!tuple.ok) return { ok: false, reason: 'damaged' };
  const [venueId, name, communeCode, typeCode] = tuple.claims;
  const venueType = venueTypeFromCode(typeCode);
  if (!venueType) return { ok: false, reason: 'damaged' };
  return {
    ok: true,
    keyId,
    claims: { venueId, name, communeCode, venueType },
    message: signedMessage(keyId, payload),
    signature
  };
}

/**
 * `revoked`: the venue is suspended. `key-revoked`: the code's key was revoked and the code is not
 * among the genuine ones the server listed for it: whoever holds a leaked key can sign anything,
 * so a code under it is "chưa xác thực" unless the server says it signed that very code.
 */
export type Verification = 'verified' | 'unknown-key' | 'bad-signature' | 'revoked' | 'key-revoked';

/**
 * `revoked`: venue ids whose codes no longer count (suspended venues), from the key document.
 * Asynchronous: the browser's WebCrypto checks the signature where it has Ed25519, and only a phone
 * without it downloads the JavaScript fallback (src/lib/core/ed25519.ts). Signing is in
 * venue-signing.ts, which the phone never loads.
 * A code under a revoked key whose commune list cannot be had now is `unknown-key`: like a code
 * of a key not yet cached, it waits (pending) for the network rather than being judged blind.
 */
export async function verifyVenueToken(parsed: Extract<ParsedToken, { ok: true }>, keys: readonly PublicKey[], revoked: ReadonlySet<string> = new Set()): Promise<Verification> {
  const key = keys.find((k) => k.id === parsed.keyId);
  if (!key) return 'unknown-key';
  if (!(await verifyEd25519(parsed.signature, parsed.message, key.publicKey))) return 'bad-signature';
  if (key.revokedFrom !== undefined) {
    const genuine = key.genuine ? await key.genuine(parsed.claims.communeCode).catch(() => null) : null;
    if (!genuine) return key.genuine ? 'unknown-key' : 'key-revoked';
    // Loaded only here: a code under a revoked key is rare, and the check-in path counts its bytes.
    const digest = await (await import('./genuine-codes')).codeDigest(parsed);
    if (digest === null) return 'unknown-key';
    if (!genuine.has(digest)) return 'key-revoked';
  }
  return revoked.has(parsed.claims.venueId) ? 'revoked' : 'verified';
}

/**
 * Finds a venue token in a scanned text: a check-in URL of any origin (the signature, not the
 * host, decides whether it is genuine), or a bare token typed or pasted.
 */
export function extractVenueToken(scanned: string): string | null {
  const text = scanned.trim();
  if (/^[0-9]{40,}$/.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.pathname.replace(/\/+$/, '') !== CHECKIN_PATH) return null;
  const token = url.hash.slice(1);
  return token.length > 0 ? token : null;
}

export type VenueCodeRead = { kind: 'venue'; token: string; parsed: Extract<ParsedToken, { ok: true }> } | { kind: 'venue-damaged' };

/** A venue code in a scanned text or opened link, read but not yet verified; null when there is none. */
export function readVenueCode(scanned: string): VenueCodeRead | null {
  const token = extractVenueToken(scanned.replace(/\0/g, ''));
  if (token === null) return null;
  const parsed = parseVenueToken(token);
  return parsed.ok ? { kind: 'venue', token, parsed } : { kind: 'venue-damaged' };
}

/**
 * The line printed under a poster's QR for people who type instead of scan:
 * `<host>/v#<commune>-<venueId in groups of 4>`, e.g. `luuvet.vn/v#18070-abcd-efgh-jk23`.
 * The fragment keeps the venue out of server logs; the page it opens fetches the commune's public
 * list of venue codes (the same for everyone) and checks in with the venue's signed token.
 */
export function shortLinkText(origin: string, communeCode: string, venueId: string): string {
  const groups = venueId.match(/.{1,4}/g) ?? [venueId];
  return `${origin.replace(/^https?:\/\//, '').replace(/\/+$/, '')}/v#${communeCode}-${groups.join('-')}`;
}

/** A typed short link as read: the commune, and the venue part as typed (case and separators gone, look-alikes kept). */
export interface TypedVenueCode {
  communeCode: string;
  typed: string;
}

/** Digits that people type as letters: a commune code is all digits, so these can only mean one thing. */
const DIGIT_LOOKALIKES: Record<string, string> = { o: '0', i: '1', l: '1' };

/**
 * Reads what a person typed or a link carried: `#18070-abcd-efgh-jk23`, the whole printed line
 * (`luuvet.vn/v#…`), or the code alone; forgives case, spaces, dashes and dots, and in the commune
 * part the letters o, i, l for 0, 1, 1. The venue part keeps its look-alikes: which letter a 1
 * meant is decided against the commune's venues (resolveTypedVenueId).
 */
export function parseShortLink(text: string): TypedVenueCode | null {
  const hash = text.lastIndexOf('#');
  const code = (hash >= 0 ? text.slice(hash + 1) : text).normalize('NFKC').toLowerCase().replace(/[\s\-–—_.·/]+/g, '');
  if (code.length !== 17) return null;
  const communeCode = [...code.slice(0, 5)].map((c) => DIGIT_LOOKALIKES[c] ?? c).join('');
  const typed = code.slice(5);
  if (!/^[0-9]{5}$/.test(communeCode) || !/^[a-z0-9]{12}$/.test(typed)) return null;
  return { communeCode, typed };
}

/**
 * One spelling for characters that are read or typed for one another: 0/o, 1/i/l, u/v, 8/b. New ids
 * have none of i, l, o, u (VENUE_ID_ALPHABET); ids printed before may, and a person copying them
 * types what the paper seems to say.
 */
function foldLookalikes(code: string): string {
  return code.replace(/[0o]/g, 'o').replace(/[1il]/g, 'l').replace(/[uv]/g, 'v').replace(/[8b]/g, 'b');
}

/**
 * Which of a commune's venue ids a typed code means: the id typed exactly first (a poster of any
 * age), else the one id that reads the same once look-alikes are folded. Null when none does, or
 * when two would (then only the person can tell, by typing it again).
 */
export function resolveTypedVenueId(typed: string, venueIds: readonly string[]): string | null {
  const code = typed.toLowerCase();
  if (venueIds.includes(code)) return code;
  const folded = foldLookalikes(code);
  const matches = venueIds.filter((id) => foldLookalikes(id) === folded);
  return matches.length === 1 ? matches[0]! : null;
}
