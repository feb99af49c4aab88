import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dictionary } from '@zxcvbn-ts/language-common';
import { BloomFilter, bloomParameters } from '../filter/bloom.js';
import { FILTER_FORMAT_VERSION, readFilterHeader, writeFilterFile } from '../filter/filter-file.js';
import { DEFAULT_FP_RATE } from './builder.js';

/**
 * The filter the service uses when none is configured: the common-passwords list shipped inside
 * `@zxcvbn-ts/language-common` (passwords from real breaches, most frequent first), each hashed with
 * SHA-1 as Pwned Passwords does. About 49,000 passwords give a 170 KiB filter built in well under a
 * second, so `npm start` refuses the most common leaked passwords with no download.
 */
export function defaultFilterPath(dataDir: string): string {
  return join(dataDir, 'hibp', 'default.filter');
}

function defaultPasswords(): string[] {
  return [...new Set(dictionary['passwords-common'])];
}

/**
 * Identifies what the default filter was built from (the list and the file format), stored in the
 * header's source tag: a package upgrade that changes the list makes the file stale.
 */
function defaultSourceTag(passwords: string[]): Buffer {
  return createHash('sha256')
    .update(`passwords-common/format-${FILTER_FORMAT_VERSION}\n`)
    .update(passwords.join('\n'))
    .digest();
}

export type DefaultFilterOutcome = 'current' | 'built';

/** Builds the default filter at `path` unless the file there is already current. */
export async function ensureDefaultFilter(path: string): Promise<DefaultFilterOutcome> {
  const passwords = defaultPasswords();
  const tag = defaultSourceTag(passwords);
  try {
    const header = await readFilterHeader(path);
    if (header.sourceTag.equals(tag)) return 'current';
  } catch {
    // Missing, unreadable or another format: rebuilt below.
  }
  const filter = new BloomFilter(bloomParameters(passwords.length, DEFAULT_FP_RATE));
  for (const password of passwords) filter.add(createHash('sha1').update(password, 'utf8').digest());
  await mkdir(dirname(path), { recursive: true });
  await writeFilterFile(path, filter, {
    keys: passwords.length,
    fpRate: DEFAULT_FP_RATE,
    minCount: 0,
    sourceTag: tag,
  });
  return 'built';
}
