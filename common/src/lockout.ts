export interface LockoutPolicy {
  /** Failures allowed before the first lockout. */
  attemptsBeforeLockout: number;
  /** Length of the first lockout; each further failure doubles it. */
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * How long to lock after the `failures`-th consecutive failure (a wrong password, a wrong claim
 * code): nothing below the allowance, then exponential back-off (base, 2×base, 4×base, …) up to
 * the cap. The rightful user waits a little; a guesser's rate falls off exponentially.
 */
export function lockoutSeconds(failures: number, policy: LockoutPolicy): number {
  if (failures < policy.attemptsBeforeLockout) return 0;
  // 2^31 seconds exceeds any configurable maximum; stop before the number grows further.
  const doublings = Math.min(failures - policy.attemptsBeforeLockout, 31);
  return Math.min(policy.baseSeconds * 2 ** doublings, policy.maxSeconds);
}

/** Whole seconds a client must wait, never zero while a lockout holds. */
export function retryAfterSeconds(lockedUntil: Date, now: Date): number {
  return Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000));
}
