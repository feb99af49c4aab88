/** A SHA-1 digest is 20 bytes, written as 40 hexadecimal characters. */
export const SHA1_BYTES = 20;
export const SHA1_HEX_LENGTH = 40;

/**
 * Nibble value of each byte (either case), -1 for anything that is not an ASCII hex digit. Every
 * entry above 0x7f is -1, so no byte of a UTF-8 sequence decodes as a digit.
 */
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

/**
 * Parses exactly 40 ASCII hex characters (either case) into `target`, which a caller on a hot path
 * reuses to avoid an allocation per lookup; undefined when the text is anything else, `target` then
 * holding garbage. Reads code units straight from the string, with no Buffer in between: an encoding
 * such as latin1 keeps only the low byte of each code unit, and would read U+0130 (İ) as "0" and
 * Cyrillic с (U+0441) as "A".
 */
export function parseSha1Hex(
  text: string,
  target: Uint8Array = new Uint8Array(SHA1_BYTES),
): Uint8Array | undefined {
  if (text.length !== SHA1_HEX_LENGTH) return undefined;
  // Checked once at the end rather than per character (half the time of a branch per character):
  // `wide` has a bit above 0x7f if any code unit is not ASCII, and `bad` is negative if any ASCII
  // character is not a hex digit. The table is indexed by the low byte only, which is why `wide`
  // is needed.
  let wide = 0;
  let bad = 0;
  for (let i = 0; i < SHA1_BYTES; i++) {
    const high = text.charCodeAt(2 * i);
    const low = text.charCodeAt(2 * i + 1);
    wide |= high | low;
    const byte = (NIBBLE[high & 0xff]! << 4) | NIBBLE[low & 0xff]!;
    bad |= byte;
    target[i] = byte;
  }
  return bad < 0 || wide > 0x7f ? undefined : target;
}

/** Whether `text` is exactly `length` ASCII hex digits (either case). */
export function isHex(text: string, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f || NIBBLE[code]! < 0) return false;
  }
  return true;
}
