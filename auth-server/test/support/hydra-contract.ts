import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Hydra's published OpenAPI document (ory/hydra v26.2.0 spec/api.json, in test/contracts/ with
 * its content unchanged; only Prettier's formatting differs), for checking request and response
 * bodies against Hydra's own schemas.
 */
const spec = JSON.parse(
  readFileSync(new URL('../contracts/hydra.spec.api.json', import.meta.url), 'utf8'),
) as {
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
};

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(spec, 'hydra');
const compiled = new Map<string, ValidateFunction>();

/**
 * Problems of `value` as an instance of the named component schema; empty when it conforms.
 * Stricter than the schema in one way: properties the schema does not define are reported, so a
 * typo in a field name cannot pass as an ignored extra.
 */
export function contractProblems(schema: string, value: unknown): string[] {
  const definition = spec.components.schemas[schema];
  if (!definition) throw new Error(`Hydra's spec has no schema ${schema}`);
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.getSchema(`hydra#/components/schemas/${schema}`);
    if (!validate) throw new Error(`cannot compile ${schema}`);
    compiled.set(schema, validate);
  }
  const problems = validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  if (definition.properties && typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      if (!(key in definition.properties)) problems.push(`/${key} is not a property of ${schema}`);
    }
  }
  return problems;
}
