const UNIT_MS = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses a duration as Oathkeeper's config writes it (`^[0-9]+(ns|us|ms|s|m|h)$`) into milliseconds. */
export function parseDuration(value: string): number {
  const found = /^(\d+)(ns|us|ms|s|m|h)$/.exec(value);
  if (!found)
    throw new Error(`invalid duration '${value}': expected a number and one of ns, us, ms, s, m, h`);
  return Number(found[1]) * UNIT_MS[found[2] as keyof typeof UNIT_MS];
}
