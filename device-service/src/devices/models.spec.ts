import { describe, expect, it } from 'vitest';
import { InvalidInput } from '../errors.js';
import { parseInput } from '../validation.js';
import { settingsSchema } from './models.js';

const valid = { program: 'cotton', temperatureC: 40, spinRpm: 1200, delayStartMinutes: 30 };

function problemsOf(model: string, settings: unknown): string[] {
  try {
    parseInput(settingsSchema(model), settings);
    return [];
  } catch (err) {
    if (err instanceof InvalidInput) return err.problems;
    throw err;
  }
}

describe('settings schema', () => {
  it('accepts settings the model supports, defaulting the delay to none', () => {
    expect(problemsOf('SC-W800', valid)).toEqual([]);
    const { delayStartMinutes: _omitted, ...withoutDelay } = valid;
    expect(parseInput(settingsSchema('SC-W800'), withoutDelay).delayStartMinutes).toBe(0);
  });

  it.each([
    ['an unknown program', { ...valid, program: 'boil' }, 'program'],
    [
      'a program the model lacks',
      { ...valid, program: 'wool', temperatureC: 30, spinRpm: 600 },
      'program',
      'SC-W600',
    ],
    ['a temperature off the dial', { ...valid, temperatureC: 45 }, 'temperatureC'],
    [
      'a temperature too hot for wool',
      { ...valid, program: 'wool', temperatureC: 60, spinRpm: 600 },
      'temperatureC',
    ],
    ['a spin speed above the drum rating', { ...valid, spinRpm: 1600 }, 'spinRpm'],
    ['a spin speed between steps', { ...valid, spinRpm: 1250 }, 'spinRpm'],
    ['a negative spin speed', { ...valid, spinRpm: -100 }, 'spinRpm'],
    ['a delay beyond a day', { ...valid, delayStartMinutes: 1441 }, 'delayStartMinutes'],
    ['a fractional delay', { ...valid, delayStartMinutes: 1.5 }, 'delayStartMinutes'],
    ['a temperature given as text', { ...valid, temperatureC: '40' }, 'temperatureC'],
    ['a field the model does not have', { ...valid, turbo: true }, 'body'],
    ['a missing program', { temperatureC: 40, spinRpm: 800 }, 'program'],
  ])('refuses %s, naming the field', (_what, settings, field, model = 'SC-W800') => {
    const problems = problemsOf(model, settings);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.startsWith(`${field}:`))).toBe(true);
  });
});
