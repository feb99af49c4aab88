/** A SHA-1 digest is 20 bytes, written as 40 hexadecimal characters. */
export const SHA1_BYTES = 20;
export const SHA1_HEX_LENGTH = 40;

/** Nibble value of each byte (either case), or -1 for a byte that is not a hex digit. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[0x41 + i] = 10 + i;
  NIBBLE[0x61 + i] = 10 + i;
}

/**
 * Decodes 40 hex characters of `source` starting at `start` into `target` (20 bytes). Returns false,
 * leaving `target` partly written, when a character is not a hex digit. Works on raw bytes so that
 * the builder never turns a corpus line into a string.
 */
export function decodeSha1Hex(source: Uint8Array, start: number, target: Uint8Array): boolean {
  if (start + SHA1_HEX_LENGTH > source.length) return false;
  for (let i = 0; i < SHA1_BYTES; i++) {
    // Negative exactly when one of the two characters is not a hex digit (-1 has every bit set).
    const byte = (NIBBLE[source[start + 2 * i]!]! << 4) | NIBBLE[source[start + 2 * i + 1]!]!;
    if (byte < 0) return false;
    target[i] = byte;
  }
  return true;
}

/** Parses a 40-character hex string (either case); undefined when it is not one. */
export function parseSha1Hex(text: string): Uint8Array | undefined {
  if (text.length !== SHA1_HEX_LENGTH) return undefined;
  const digest = new Uint8Array(SHA1_BYTES);
  return decodeSha1Hex(Buffer.from(text, 'latin1'), 0, digest) ? digest : undefined;
}
