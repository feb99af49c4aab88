import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { enrolmentSchema } from '../pki/enrolment.dto.js';
import { parseInput } from './validation.js';

function problemsOf(schema: z.ZodType, input: unknown): unknown {
  try {
    parseInput(schema, input);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return ((err as BadRequestException).getResponse() as { problems: string[] }).problems;
  }
  throw new Error('the input was accepted');
}

const SECRET = 'a one-time secret of 32 letters';

describe('parseInput', () => {
  it.each([
    [
      'an empty body: the fields of both forms, and what tells the forms apart',
      {},
      [
        'deviceId: required',
        'csr: required',
        'body: matches none of 2 forms: (1) enrolmentSecret: required or (2) certificate: required; proof: required',
      ],
    ],
    [
      'a renewal short of its proof, with what the other form refuses',
      { deviceId: 'washer-1', csr: 'pem', certificate: 'pem' },
      [
        'body: matches none of 2 forms: (1) enrolmentSecret: required; body: Unrecognized key: "certificate" or (2) proof: required',
      ],
    ],
    [
      'a form that nearly fits: only what it lacks',
      { deviceId: 'washer-1', csr: 'pem', enrolmentSecret: 'short' },
      ['enrolmentSecret: Too small: expected string to have >=16 characters'],
    ],
    [
      'a wrong type, without the value',
      { deviceId: 'washer/1', csr: 7, enrolmentSecret: SECRET },
      [
        'deviceId: must be 1-128 letters, digits, ".", "_" or "-"',
        'csr: Invalid input: expected string, received number',
      ],
    ],
    ['not an object', null, ['body: Invalid input: expected object, received null']],
  ])('names the problems of %s', (_, input, problems) => {
    expect(problemsOf(enrolmentSchema, input)).toEqual(problems);
  });

  it('places a union inside an object at its path', () => {
    const schema = z.object({
      proof: z.union([z.object({ secret: z.string() }), z.object({ token: z.string() })]),
    });
    expect(problemsOf(schema, { proof: {} })).toEqual([
      'proof: matches none of 2 forms: (1) proof.secret: required or (2) proof.token: required',
    ]);
  });

  it('answers the parsed value when the input fits', () => {
    const body = { deviceId: 'washer-1', csr: 'pem', enrolmentSecret: SECRET };
    expect(parseInput(enrolmentSchema, body)).toEqual(body);
  });
});
