/**
 * Per-event signatures of exposure events (the list format of `/api/exposures/:province`, which apps
 * of before the compact snapshot still fetch): the server signs every event it publishes, and this
 * synchronous check with @noble/curves serves the server, tests and the fallback of
 * exposure-verify.ts. Apart from exposure.ts so that the phone's matching code does not carry the
 * curve library: the phone now verifies one signature per snapshot (snapshot-format.ts).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import * as v from 'valibot';
import { ExposureEventSchema, exposureSigningBytes, type ExposureEvent, type SignedExposure } from './exposure';
import { encodeSnapshotPayload, sealSnapshot, snapshotSigningBytes, type SnapshotContent } from './snapshot-format';
import { encodeSnapshotPayloadV1, SNAPSHOT_V1_MAGIC } from './snapshot-format-v1';
import type { PublicKey, SigningKey } from '../venue/venue-token';

/** A signature as the server writes it: 128 lowercase hex characters. */
const SIGNATURE_HEX = /^[0-9a-f]{128}$/;

/** The 64 bytes of a signature in that form, else null (the one rule for both verifiers). */
export function fromHex(hex: string): Uint8Array | null {
  return SIGNATURE_HEX.test(hex) ? hexToBytes(hex) : null;
}

export function signExposure(event: ExposureEvent, key: SigningKey): SignedExposure {
  const checked = v.parse(ExposureEventSchema, event);
  if (checked.to < checked.from) throw new Error('an exposure window must end after it starts');
  return { event: checked, keyId: key.id, signature: bytesToHex(ed25519.sign(exposureSigningBytes(checked), key.secretKey)) };
}

/**
 * The key an event names, when it may sign events: a revoked key signs none that a phone accepts,
 * whatever date the event claims (whoever holds the key could claim any; the server publishes
 * events afresh under its active key).
 */
export function eventKey(keys: readonly PublicKey[], keyId: unknown): PublicKey | undefined {
  return keys.find((k) => k.id === keyId && k.revokedFrom === undefined);
}

/** The event if its signature holds under a known key; null for anything forged, altered or malformed. */
export function verifyExposure(signed: unknown, keys: readonly PublicKey[]): ExposureEvent | null {
  if (typeof signed !== 'object' || signed === null) return null;
  const s = signed as Partial<SignedExposure>;
  const parsed = v.safeParse(ExposureEventSchema, s.event);
  const key = eventKey(keys, s.keyId);
  const signature = typeof s.signature === 'string' ? fromHex(s.signature) : null;
  if (!parsed.success || !key || !signature) return null;
  try {
    return ed25519.verify(signature, exposureSigningBytes(parsed.output), key.publicKey) ? parsed.output : null;
  } catch {
    return null;
  }
}

/** A snapshot or delta as served: its payload sealed under one signature (format: snapshot-format.ts). */
export function signSnapshot(content: SnapshotContent, key: SigningKey): Uint8Array<ArrayBuffer> {
  const payload = encodeSnapshotPayload(content);
  return sealSnapshot(payload, key.id, ed25519.sign(snapshotSigningBytes(payload), key.secretKey));
}

/** The same in LVS1, for the apps that still ask for it (snapshot-format-v1.ts). */
export function signSnapshotV1(content: SnapshotContent, key: SigningKey): Uint8Array<ArrayBuffer> {
  const payload = encodeSnapshotPayloadV1(content);
  return sealSnapshot(payload, key.id, ed25519.sign(snapshotSigningBytes(payload, SNAPSHOT_V1_MAGIC), key.secretKey), SNAPSHOT_V1_MAGIC);
}
