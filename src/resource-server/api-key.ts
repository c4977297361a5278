/**
 * svcauth API keys, as far as a resource server needs to know them: `svcak_<16 base62 key id>_<32
 * base62 secret><6 base62 CRC-32 of everything before>`. The key id is the credential's client id,
 * which the revocation feed names. The checksum lets a mistyped or made-up key be refused without a
 * network call; it is not a security control. Keys imported from a legacy system have no such shape
 * and are only checked by the server.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SHAPE = /^svcak_([0-9A-Za-z]{16})_[0-9A-Za-z]{38}$/;
const CHECKSUM_LENGTH = 6;
const LEGACY_MIN_LENGTH = 16;
const LEGACY_MAX_LENGTH = 512;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Prefixes of svcauth's own values: a key starting with one is never a legacy key. */
const RESERVED_PREFIXES = ['svcak_', 'svcc_', 'svcs_'];

export type ApiKeyShape =
  | { kind: 'svcauth'; keyId: string }
  | { kind: 'legacy' }
  | { kind: 'invalid'; reason: 'format' | 'checksum' };

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3) of the UTF-8 bytes of `text`. */
export function crc32(text: string): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base62Checksum(text: string): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62.charAt(value % 62) + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** What a presented key is: an svcauth key (with its key id), a possible legacy key, or garbage. */
export function classifyApiKey(key: string): ApiKeyShape {
  const match = SHAPE.exec(key);
  if (match) {
    const valid = base62Checksum(key.slice(0, -CHECKSUM_LENGTH)) === key.slice(-CHECKSUM_LENGTH);
    return valid ? { kind: 'svcauth', keyId: match[1]! } : { kind: 'invalid', reason: 'checksum' };
  }
  const legacy =
    key.length >= LEGACY_MIN_LENGTH &&
    key.length <= LEGACY_MAX_LENGTH &&
    PRINTABLE_ASCII.test(key) &&
    !RESERVED_PREFIXES.some((prefix) => key.startsWith(prefix));
  return legacy ? { kind: 'legacy' } : { kind: 'invalid', reason: 'format' };
}
