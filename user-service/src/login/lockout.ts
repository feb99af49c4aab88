export interface LockoutPolicy {
  /** Failures allowed before the first lockout. */
  maxFailures: number;
  /** Length of the first lockout; each further failure doubles it. */
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * How long to lock after the `failures`-th consecutive failure: nothing below the threshold, then
 * exponential back-off (base, 2×base, 4×base, …) up to the cap. Guessing stays possible for the
 * owner after a short wait, while a guesser's rate falls off exponentially.
 */
export function lockoutSeconds(failures: number, policy: LockoutPolicy): number {
  if (failures < policy.maxFailures) return 0;
  const doublings = Math.min(failures - policy.maxFailures, 30);
  return Math.min(policy.baseSeconds * 2 ** doublings, policy.maxSeconds);
}
