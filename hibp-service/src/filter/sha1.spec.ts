import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSha1Hex, isHex, parseSha1Hex } from './sha1.js';

const digest = createHash('sha1').update('correct horse battery staple').digest();
const hex = digest.toString('hex');

describe('parseSha1Hex', () => {
  it('reads 40 hex digits in either case into the digest, reusing the target it is given', () => {
    expect(Buffer.from(parseSha1Hex(hex)!).equals(digest)).toBe(true);
    const target = new Uint8Array(20);
    expect(parseSha1Hex(hex.toUpperCase(), target)).toBe(target);
    expect(Buffer.from(target).equals(digest)).toBe(true);
  });

  it.each([
    ['40 × "İ" (U+0130, low byte "0")', '\u0130'.repeat(40)],
    ['Cyrillic а (U+0430, low byte "0")', `\u0430${hex.slice(1)}`],
    ['Cyrillic с (U+0441, low byte "A")', `${hex.slice(0, 39)}\u0441`],
    ['Ł (U+0141, low byte "A")', `${hex.slice(0, 20)}\u0141${hex.slice(21)}`],
    ['full-width digits', '\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19'.repeat(4)],
    ['an emoji (a surrogate pair)', `${hex.slice(0, 38)}\u{1f600}`],
    ['a NUL', `${hex.slice(0, 39)}\0`],
    ['a space', ` ${hex.slice(1)}`],
    ['"g"', `${hex.slice(0, 39)}g`],
    ['39 characters', hex.slice(1)],
    ['41 characters', `${hex}0`],
    ['nothing', ''],
  ])('refuses %s', (_case, text) => {
    expect(parseSha1Hex(text)).toBeUndefined();
  });

  it('refuses every code unit that is not an ASCII hex digit, at every position', () => {
    const digits = new Set('0123456789abcdefABCDEF');
    const accepted: number[] = [];
    for (let code = 0; code < 0x10000; code++) {
      const char = String.fromCharCode(code);
      if (digits.has(char)) continue;
      const at = code % 40;
      if (parseSha1Hex(`${hex.slice(0, at)}${char}${hex.slice(at + 1)}`)) accepted.push(code);
    }
    expect(accepted).toEqual([]);
  });
});

describe('isHex', () => {
  it.each([
    ['CBFDA', 5, true],
    ['cbfda', 5, true],
    ['CBFD', 5, false],
    ['CBFDAB', 5, false],
    ['\u0130BFDA', 5, false],
    ['\uff11\uff12\uff13\uff14\uff15', 5, false],
  ])('%j is %d hex digits: %s', (text, length, expected) => {
    expect(isHex(text, length)).toBe(expected);
  });
});

describe('decodeSha1Hex', () => {
  it('refuses the UTF-8 bytes of a lookalike, whose bytes are all above 0x7f', () => {
    const bytes = Buffer.from(`${hex.slice(0, 38)}\u0130`, 'utf8');
    expect(bytes.length).toBe(40);
    expect(decodeSha1Hex(bytes, 0, new Uint8Array(20))).toBe(false);
  });
});
