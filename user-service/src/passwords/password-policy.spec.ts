import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.js';

describe('passwordProblem', () => {
  it.each([
    ['nine chars', '123456789', /at least 10/],
    ['ten chars', 'abcdefghij', undefined],
    ['ten emoji (counted as characters, not code units)', '😀'.repeat(10), undefined],
    ['nine emoji', '😀'.repeat(9), /at least 10/],
    ['72 bytes', 'a'.repeat(72), undefined],
    ['73 bytes', 'a'.repeat(73), /at most 72 bytes/],
    ['19 emoji (76 bytes)', '😀'.repeat(19), /at most 72 bytes/],
  ])('%s', (_label, password, expected) => {
    const problem = passwordProblem(password);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
});
