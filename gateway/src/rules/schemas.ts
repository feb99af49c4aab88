import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Oathkeeper's own JSON Schemas, kept verbatim in gateway/schema/: the access-rule array (derived
 * from spec/api.json) and the configuration schema whose definitions describe each handler's
 * `config`. Validating against them keeps our rule files loadable by Oathkeeper itself.
 */
const schemaDir = new URL('../../schema/', import.meta.url);
const readSchema = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(name, schemaDir), 'utf8')) as Record<string, unknown>;

const CONFIG_SCHEMA_ID = '/.schema/config.schema.json';

function isUrl(value: string, base?: string): boolean {
  try {
    new URL(value, base);
    return true;
  } catch {
    return false;
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('uri', (value: string) => isUrl(value));
ajv.addFormat('uri-reference', (value: string) => isUrl(value, 'http://base.invalid/'));
// The config schema pulls Ory's shared logging and tracing schemas by reference; they describe
// sections no rule touches, so they are accepted as they come.
for (const external of ['ory://logging-config', 'ory://tracing-config']) ajv.addSchema({}, external);
ajv.addSchema(readSchema('spec.config.schema.json'), CONFIG_SCHEMA_ID);

export const validateRulesDocument: ValidateFunction = ajv.compile(readSchema('rules.schema.json'));

const handlerValidators = new Map<string, ValidateFunction>();

/** A validator for one `definitions` entry of Oathkeeper's config schema (e.g. configMutatorsHeader). */
export function handlerConfigValidator(definition: string): ValidateFunction {
  let validate = handlerValidators.get(definition);
  if (!validate) {
    validate = ajv.compile({ $ref: `${CONFIG_SCHEMA_ID}#/definitions/${definition}` });
    handlerValidators.set(definition, validate);
  }
  return validate;
}

/** `/0/match/url must be string` → one readable line per problem. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const where = error.instancePath || '(root)';
    const extra =
      error.keyword === 'additionalProperties'
        ? ` '${String((error.params as { additionalProperty?: string }).additionalProperty)}'`
        : '';
    return `${where} ${error.message ?? 'is invalid'}${extra}`;
  });
}
