/**
 * Bytes <-> decimal digits, for QR numeric mode.
 *
 * A QR code stores digits at 10 bits per 3 digits, which carries binary data at ~8.02 bits per
 * byte: as dense as byte mode, and denser than base64 (10.7 bits per byte in byte mode) or base32
 * (8.8 in alphanumeric mode). The venue token is long (a 64-byte signature plus a Vietnamese name),
 * so this is what keeps a poster code at version 10 or below.
 *
 * Every 7 bytes become 17 digits (2^56 < 10^17); a last partial chunk of k bytes takes the fewest
 * digits that can hold it. The lengths {3,5,8,10,13,15} of partial chunks are all different, so
 * the byte length is known from the digit count alone.
 */

const CHUNK_BYTES = 7;
const CHUNK_DIGITS = 17;
/** digits needed for k bytes, k = 0..7 */
const DIGITS_FOR_BYTES = [0, 3, 5, 8, 10, 13, 15, 17] as const;

export function bytesToDigits(bytes: Uint8Array): string {
  let out = '';
  for (let start = 0; start < bytes.length; start += CHUNK_BYTES) {
    const chunk = bytes.subarray(start, start + CHUNK_BYTES);
    let value = 0n;
    for (const b of chunk) value = (value << 8n) | BigInt(b);
    out += value.toString(10).padStart(DIGITS_FOR_BYTES[chunk.length]!, '0');
  }
  return out;
}

/** Returns null when the text is not a valid encoding (wrong length, non-digits, overflow). */
export function digitsToBytes(digits: string): Uint8Array | null {
  if (!/^[0-9]*$/.test(digits)) return null;
  const full = Math.floor(digits.length / CHUNK_DIGITS);
  const restDigits = digits.length - full * CHUNK_DIGITS;
  const restBytes = DIGITS_FOR_BYTES.indexOf(restDigits as (typeof DIGITS_FOR_BYTES)[number]);
  if (restBytes < 0 || (restDigits === CHUNK_DIGITS)) return null;
  const out = new Uint8Array(full * CHUNK_BYTES + restBytes);
  let o = 0;
  for (let pos = 0; pos < digits.length; ) {
    const take = pos + CHUNK_DIGITS <= digits.length ? CHUNK_DIGITS : restDigits;
    const n = take === CHUNK_DIGITS ? CHUNK_BYTES : restBytes;
    let value = BigInt(digits.slice(pos, pos + take));
    if (value >> BigInt(8 * n) !== 0n) return null; // more than n bytes can hold
    for (let i = n - 1; i >= 0; i--) {
      out[o + i] = Number(value & 0xffn);
      value >>= 8n;
    }
    o += n;
    pos += take;
  }
  return out;
}
