import { describe, expect, it } from 'vitest';
import { newClaimCode, newMachineSecret, normalizeClaimCode, SecretHasher } from './secrets.js';

describe('SecretHasher', () => {
  const hasher = new SecretHasher('pepper-for-tests-0123456789abcdef');

  it('verifies the secret it hashed and nothing else', () => {
    const stored = hasher.hash('claim-code', 'ABCDE');
    expect(hasher.matches('claim-code', 'ABCDE', stored)).toBe(true);
    expect(hasher.matches('claim-code', 'ABCDF', stored)).toBe(false);
    expect(hasher.matches('claim-code', 'ABCDE', null)).toBe(false);
  });

  it('never lets a hash of one purpose verify as another', () => {
    const stored = hasher.hash('claim-code', 'ABCDE');
    expect(hasher.matches('internal-token', 'ABCDE', stored)).toBe(false);
  });

  it('depends on the pepper', () => {
    const other = new SecretHasher('another-pepper-0123456789abcdef-xyz');
    expect(other.matches('claim-code', 'ABCDE', hasher.hash('claim-code', 'ABCDE'))).toBe(false);
  });
});

describe('generated secrets', () => {
  it('makes claim codes of four groups of five unambiguous symbols', () => {
    const codes = new Set(Array.from({ length: 200 }, newClaimCode));
    expect(codes.size).toBe(200);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
  });

  it('reads a claim code typed in lower case with spaces as the printed one', () => {
    expect(normalizeClaimCode('ab12c-de34f ')).toBe('AB12CDE34F');
  });

  it('makes machine secrets of 128 bits', () => {
    expect(Buffer.from(newMachineSecret(), 'base64url')).toHaveLength(16);
  });
});
