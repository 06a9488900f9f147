/**
 * Checking a whole snapshot of exposure events at once (DESIGN §7: phones match only against
 * signature-checked events). A province can hold 10,000 events; verifying them one by one with
 * @noble/curves is pure JavaScript on the main thread and takes seconds on a phone, while the
 * browser's own Ed25519 (WebCrypto, native code, off the main thread in Chromium) takes a fraction
 * of that. So: WebCrypto where the runtime has Ed25519, @noble/curves (`verifyExposure`) elsewhere,
 * with exactly the acceptance of `verifyExposure`: a schema-valid event, a known key id, a
 * signature of 128 lowercase hex characters, and a signature that holds.
 */
import * as v from 'valibot';
import { bytesToHex } from '@noble/curves/utils.js';
import { ExposureEventSchema, exposureSigningBytes, type ExposureEvent, type SignedExposure } from './exposure';
import { eventKey, fromHex, verifyExposure } from './exposure-sign';
import type { PublicKey } from '../venue/venue-token';
import { ED25519, plain, subtle, webCryptoEd25519 } from '../ed25519';

export type VerifyEngine = 'webcrypto' | 'noble';

export interface VerifyOptions {
  /**
   * 'auto' (default): WebCrypto when the runtime verifies Ed25519, else noble. 'noble' forces the
   * fallback (tests and benches compare the two); 'webcrypto' throws where it is missing.
   */
  engine?: 'auto' | VerifyEngine;
}

export interface VerifiedExposures {
  /** The accepted events, in the order of the input. */
  events: ExposureEvent[];
  /** For each accepted event, its position in the input: its keyId and signature without a search. */
  indices: number[];
  rejected: number;
  /** Which implementation did the work, for benches and diagnostics. */
  engine: VerifyEngine;
}

/**
 * Imported keys by their bytes: the key list is decoded afresh from /api/keys on every sync, so
 * object identity would miss. Null when WebCrypto refuses the key: its events then go to noble,
 * which decides exactly as `verifyExposure` would.
 */
const imported = new Map<string, Promise<CryptoKey | null>>();

function importedKey(s: SubtleCrypto, key: PublicKey): Promise<CryptoKey | null> {
  const id = bytesToHex(key.publicKey);
  let found = imported.get(id);
  if (!found) {
    found = s.importKey('raw', plain(key.publicKey), ED25519, false, ['verify']).catch(() => null);
    imported.set(id, found);
  }
  return found;
}

/** Lets the page paint between slices of noble's work (several seconds in all on a phone). */
const SLICE_MS = 25;
const yieldToPage = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function verifyWithNoble(signed: readonly unknown[], keys: readonly PublicKey[]): Promise<VerifiedExposures> {
  const events: ExposureEvent[] = [];
  const indices: number[] = [];
  let sliceStart = Date.now();
  for (let i = 0; i < signed.length; i++) {
    const event = verifyExposure(signed[i], keys);
    if (event) {
      events.push(event);
      indices.push(i);
    }
    if (Date.now() - sliceStart > SLICE_MS) {
      await yieldToPage();
      sliceStart = Date.now();
    }
  }
  return { events, indices, rejected: signed.length - events.length, engine: 'noble' };
}

/**
 * Verifications in flight at once: enough to keep the native side busy, few enough that 10,000
 * signed messages are not all held in memory as pending promises.
 */
const BATCH = 512;

async function verifyWithWebCrypto(s: SubtleCrypto, signed: readonly unknown[], keys: readonly PublicKey[]): Promise<VerifiedExposures> {
  const one = async (item: unknown): Promise<ExposureEvent | null> => {
    if (typeof item !== 'object' || item === null) return null;
    const candidate = item as Partial<SignedExposure>;
    const parsed = v.safeParse(ExposureEventSchema, candidate.event);
    const key = eventKey(keys, candidate.keyId);
    const signature = typeof candidate.signature === 'string' ? fromHex(candidate.signature) : null;
    if (!parsed.success || !key || !signature) return null;
    const cryptoKey = await importedKey(s, key);
    if (!cryptoKey) return verifyExposure(item, keys);
    try {
      return (await s.verify(ED25519, cryptoKey, plain(signature), plain(exposureSigningBytes(parsed.output)))) ? parsed.output : null;
    } catch {
      // WebCrypto throws where noble might answer (odd encodings): let noble decide, as verifyExposure would.
      return verifyExposure(item, keys);
    }
  };
  const events: ExposureEvent[] = [];
  const indices: number[] = [];
  for (let i = 0; i < signed.length; i += BATCH) {
    const batch = await Promise.all(signed.slice(i, i + BATCH).map(one));
    batch.forEach((event, j) => {
      if (event) {
        events.push(event);
        indices.push(i + j);
      }
    });
  }
  return { events, indices, rejected: signed.length - events.length, engine: 'webcrypto' };
}

/** Verifies a snapshot's signed events; anything forged, altered, malformed or of an unknown key is counted as rejected. */
export async function verifyExposures(signed: readonly unknown[], keys: readonly PublicKey[], options: VerifyOptions = {}): Promise<VerifiedExposures> {
  const engine = options.engine ?? 'auto';
  if (engine !== 'noble') {
    const s = subtle();
    if (s && (await webCryptoEd25519())) return verifyWithWebCrypto(s, signed, keys);
    if (engine === 'webcrypto') throw new Error('this runtime has no WebCrypto Ed25519');
  }
  return verifyWithNoble(signed, keys);
}
