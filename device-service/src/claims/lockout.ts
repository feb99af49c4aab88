export interface LockoutPolicy {
  /** Wrong codes allowed before the first lockout. */
  attemptsBeforeLockout: number;
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * How long claiming is locked after the given number of consecutive wrong codes: not at all
 * until the allowance is used up, then the base period, doubling with each further failure up
 * to the maximum. Exponential back-off keeps a patient guesser at a handful of tries a day.
 */
export function lockoutSeconds(failures: number, policy: LockoutPolicy): number {
  if (failures < policy.attemptsBeforeLockout) return 0;
  const doublings = failures - policy.attemptsBeforeLockout;
  // 2^31 seconds exceeds any configurable maximum; stop before the number grows further.
  return Math.min(policy.baseSeconds * 2 ** Math.min(doublings, 31), policy.maxSeconds);
}

/** Whole seconds a client must wait, never zero while a lockout holds. */
export function retryAfterSeconds(lockedUntil: Date, now: Date): number {
  return Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000));
}
