import { z } from 'zod';

/**
 * The washing-machine models device-service knows, and what each accepts as settings. A device
 * is provisioned with one of these models; its settings are checked against that model's schema
 * before they are stored and sent to it.
 */
export const PROGRAMS = [
  'cotton',
  'synthetics',
  'wool',
  'delicates',
  'quick',
  'eco',
  'rinse',
  'spin',
] as const;
export type Program = (typeof PROGRAMS)[number];

interface ModelSpec {
  /** Highest spin speed the drum is rated for. */
  maxSpinRpm: number;
  programs: readonly Program[];
}

const TEMPERATURES_C = [0, 20, 30, 40, 60, 90] as const;
/** Fabrics that must not be washed hotter (or spun faster) than this whatever the model can do. */
const PROGRAM_LIMITS: Partial<Record<Program, { maxTemperatureC: number; maxSpinRpm: number }>> = {
  wool: { maxTemperatureC: 40, maxSpinRpm: 800 },
  delicates: { maxTemperatureC: 40, maxSpinRpm: 600 },
  rinse: { maxTemperatureC: 0, maxSpinRpm: 1400 },
  spin: { maxTemperatureC: 0, maxSpinRpm: 1600 },
};

export const MODELS: Record<string, ModelSpec> = {
  'SC-W600': { maxSpinRpm: 1200, programs: ['cotton', 'synthetics', 'quick', 'eco', 'rinse', 'spin'] },
  'SC-W800': { maxSpinRpm: 1400, programs: PROGRAMS },
  'SC-W900': { maxSpinRpm: 1600, programs: PROGRAMS },
};

export const MODEL_NAMES = Object.keys(MODELS) as [string, ...string[]];

const MAX_DELAY_START_MINUTES = 24 * 60;

/** The settings schema of one model: what the app may set, checked field by field. */
export function settingsSchema(model: string) {
  const spec = MODELS[model];
  if (!spec) throw new Error(`unknown model ${model}`);
  return z
    .object({
      program: z.enum(spec.programs as [Program, ...Program[]]),
      temperatureC: z
        .number()
        .int()
        .refine((t) => (TEMPERATURES_C as readonly number[]).includes(t), {
          message: `must be one of ${TEMPERATURES_C.join(', ')}`,
        }),
      spinRpm: z
        .number()
        .int()
        .min(0)
        .max(spec.maxSpinRpm)
        .refine((rpm) => rpm % 100 === 0, { message: 'must be a multiple of 100' }),
      delayStartMinutes: z.number().int().min(0).max(MAX_DELAY_START_MINUTES).default(0),
    })
    .strict()
    .superRefine((settings, ctx) => {
      const limits = PROGRAM_LIMITS[settings.program];
      if (!limits) return;
      if (settings.temperatureC > limits.maxTemperatureC) {
        ctx.addIssue({
          code: 'custom',
          path: ['temperatureC'],
          message: `must be at most ${limits.maxTemperatureC} for the ${settings.program} program`,
        });
      }
      if (settings.spinRpm > Math.min(limits.maxSpinRpm, spec.maxSpinRpm)) {
        ctx.addIssue({
          code: 'custom',
          path: ['spinRpm'],
          message: `must be at most ${Math.min(limits.maxSpinRpm, spec.maxSpinRpm)} for the ${settings.program} program`,
        });
      }
    });
}

export type DeviceSettings = z.output<ReturnType<typeof settingsSchema>>;
