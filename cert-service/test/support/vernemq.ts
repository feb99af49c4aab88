import { readdirSync, readFileSync } from 'node:fs';
import { VERNEMQ_REFERENCE_DIR } from './acl-contract.js';

/** The reference payloads VerneMQ's documentation gives, by file name. */
export function referencePayload(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, VERNEMQ_REFERENCE_DIR), 'utf8')) as Record<string, unknown>;
}

export function referenceRequestFiles(): string[] {
  return readdirSync(VERNEMQ_REFERENCE_DIR)
    .filter((f) => f.endsWith('.request.json'))
    .sort();
}

/** A reference request with our actor's fields in place, keeping every other field as VerneMQ sends it. */
export function requestFor(hook: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { ...referencePayload(`${hook}.request.json`), ...fields };
}

export const NOT_ALLOWED = referencePayload('response-error-not_allowed.json');
export const OK = referencePayload('response-ok.json');
export const payloadBase64 = Buffer.from('{"drum":"spinning"}').toString('base64');
