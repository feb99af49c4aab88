import { describe, expect, it } from 'vitest';
import { compilePattern, PatternError, type MatchingStrategy } from './pattern.js';

// Patterns from Oathkeeper's access-rule documentation and its example rule files.
const cases: [MatchingStrategy, string, string, string[] | undefined][] = [
  ['regexp', '<https|http>://mydomain.com/<.*>', 'https://mydomain.com/', ['https', '']],
  ['regexp', '<https|http>://mydomain.com/<.*>', 'http://mydomain.com/some/path', ['http', 'some/path']],
  ['regexp', '<https|http>://mydomain.com/<.*>', 'ftp://mydomain.com/some/path', undefined],
  ['regexp', '<https|http>://mydomain.com/<.*>', 'https://mydomain.com', undefined],
  ['regexp', '<https|http>://mydomain.com/<.*>', 'https://mydomainxcom/', undefined],
  ['regexp', 'http://my-app/some-route/<.*>', 'http://my-app/some-route/123', ['123']],
  ['regexp', 'http://my-app/some-route/<.*>', 'http://my-app/other-route/123', undefined],
  [
    'regexp',
    'http://<127.0.0.1|localhost>:4455/anything/header',
    'http://localhost:4455/anything/header',
    ['localhost'],
  ],
  [
    'regexp',
    'http://<127.0.0.1|localhost>:4455/anything/header',
    'http://example.com:4455/anything/header',
    undefined,
  ],
  // Anchored at both ends: no prefix or suffix may ride along.
  ['regexp', 'https://mydomain.com/api', 'https://mydomain.com/api', []],
  ['regexp', 'https://mydomain.com/api', 'https://mydomain.com/api/extra', undefined],
  ['regexp', 'https://mydomain.com/api', 'https://evil.com/https://mydomain.com/api', undefined],
  ['regexp', 'https://mydomain.com/<[0-9]+>', 'https://mydomain.com/42', ['42']],
  ['regexp', 'https://mydomain.com/<[0-9]+>', 'https://mydomain.com/4x2', undefined],
  // Nested delimiters stay inside their part.
  ['regexp', 'https://mydomain.com/<(?<id>[a-z]+)>', 'https://mydomain.com/abc', ['abc', 'abc']],
  ['glob', 'https://mydomain.com/<{foo*,bar*}>', 'https://mydomain.com/foo', []],
  ['glob', 'https://mydomain.com/<{foo*,bar*}>', 'https://mydomain.com/barbaz', []],
  ['glob', 'https://mydomain.com/<{foo*,bar*}>', 'https://mydomain.com/baz', undefined],
  ['glob', 'https://mydomain.com/<{foo*,bar*}>', 'https://mydomain.com/foo/bar', undefined],
  ['glob', 'https://mydomain.com/<**>', 'https://mydomain.com/a/b.c/d', []],
  ['glob', 'https://<*>.mydomain.com/', 'https://api.mydomain.com/', []],
  ['glob', 'https://<*>.mydomain.com/', 'https://a.b.mydomain.com/', undefined],
  ['glob', 'https://mydomain.com/v<?>/users', 'https://mydomain.com/v2/users', []],
  ['glob', 'https://mydomain.com/v<?>/users', 'https://mydomain.com/v22/users', undefined],
  ['glob', 'https://mydomain.com/<[a-c]>', 'https://mydomain.com/b', []],
  ['glob', 'https://mydomain.com/<[!a-c]>', 'https://mydomain.com/b', undefined],
  ['glob', 'https://mydomain.com/<[!a-c]>', 'https://mydomain.com/d', []],
  // Outside the delimiters, glob characters are literal.
  ['glob', 'https://mydomain.com/*', 'https://mydomain.com/*', []],
  ['glob', 'https://mydomain.com/*', 'https://mydomain.com/x', undefined],
];

describe('URL patterns', () => {
  it.each(cases)('%s %s against %s', (strategy, pattern, url, expected) => {
    expect(compilePattern(pattern, strategy).match(url)).toEqual(expected);
  });

  it.each([
    ['regexp', 'https://mydomain.com/<.*'],
    ['regexp', 'https://mydomain.com/.*>'],
    ['regexp', 'https://mydomain.com/<[>'],
    ['glob', 'https://mydomain.com/<{a,b>'],
  ] as const)('refuses the malformed %s pattern %s', (strategy, pattern) => {
    expect(() => compilePattern(pattern, strategy)).toThrow(PatternError);
  });
});
