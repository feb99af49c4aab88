export const MIN_PASSWORD_LENGTH = 10;
// bcrypt reads only the first 72 bytes; a longer password would have an unchecked tail.
export const MAX_PASSWORD_BYTES = 72;

/** Why a new password is not acceptable, in words for the user, or undefined when it is. */
export function passwordProblem(password: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return `Use at most ${MAX_PASSWORD_BYTES} bytes (72 letters or digits, fewer with accents or emoji).`;
  }
  return undefined;
}
