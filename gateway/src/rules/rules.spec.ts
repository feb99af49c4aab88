import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerContext, readJson } from '../../test/support.js';
import type { HandlerContext } from '../pipeline/handlers.js';
import { compileRules, loadRulesFile, RulesError, schemaProblems, type AccessRule } from './rules.js';

const fixtures = new URL('../../test/fixtures/', import.meta.url);

const valid = (overrides: Partial<AccessRule> = {}): AccessRule => ({
  id: 'devices',
  match: { url: 'https://api.test/devices', methods: ['GET'] },
  authenticators: [{ handler: 'anonymous' }],
  authorizer: { handler: 'allow' },
  mutators: [{ handler: 'noop' }],
  upstream: { url: 'http://127.0.0.1:3020' },
  ...overrides,
});

let context: HandlerContext;
let dir: string;
beforeAll(async () => {
  context = await handlerContext();
  dir = await mkdtemp(join(tmpdir(), 'gateway-rules-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const problemOf = (document: unknown) => {
  try {
    compileRules(document, 'regexp', context, 'rules.json');
  } catch (err) {
    if (err instanceof RulesError) return err.message;
    throw err;
  }
  return 'loaded';
};

describe("Oathkeeper's rule schema", () => {
  it.each(['oathkeeper-test-stub.rules.json', 'oathkeeper-docker-compose.rules.json'])(
    'accepts the upstream example %s',
    (name) => {
      expect(schemaProblems(readJson(name, fixtures))).toEqual([]);
    },
  );

  it.each(['oathkeeper-rules.json', 'oathkeeper-admin-rules.json'])(
    'accepts our %s and every handler in it loads',
    (name) => {
      const document = readJson(name);
      expect(schemaProblems(document)).toEqual([]);
      expect(compileRules(document, 'regexp', context, name).length).toBe((document as unknown[]).length);
    },
  );
});

describe('loading rules', () => {
  it('reads YAML as well as JSON', async () => {
    const path = join(dir, 'rules.yaml');
    await writeFile(
      path,
      [
        '- id: devices',
        '  match: { url: "https://api.test/devices", methods: [GET] }',
        '  authenticators: [{ handler: anonymous }]',
        '  authorizer: { handler: allow }',
        '  mutators: [{ handler: header, config: { headers: { X-User: "{{ print .Subject }}" } } }]',
        '  upstream: { url: "http://127.0.0.1:3020" }',
      ].join('\n'),
    );
    const [rule] = await loadRulesFile(path, 'regexp', context);
    expect(rule?.rule.id).toBe('devices');
  });

  it('names the file when it cannot be parsed', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '[{"id": ');
    await expect(loadRulesFile(path, 'regexp', context)).rejects.toThrow(
      /broken\.json: cannot read access rules/,
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['a document that is not an array', { id: 'x' }, /\(root\) must be array/],
    [
      'a wrong type',
      [valid({ match: { url: 42 as unknown as string, methods: ['GET'] } })],
      /rule 'devices': \/match\/url must be string/,
    ],
    [
      'a missing authorizer',
      [{ ...valid(), authorizer: undefined }],
      /rule 'devices': authorizer is required/,
    ],
    ['no mutator', [valid({ mutators: [] })], /rule 'devices': mutators must list at least one handler/],
    [
      'no method',
      [valid({ match: { url: 'https://api.test/x', methods: [] } })],
      /rule 'devices': match.methods/,
    ],
    ['a missing id', [{ ...valid(), id: undefined }], /rule #0: id is required/],
    [
      'a duplicate id',
      [valid(), valid({ match: { url: 'https://api.test/y', methods: ['GET'] } })],
      /rule 'devices': id is used by an earlier rule/,
    ],
    [
      'a bad pattern',
      [valid({ match: { url: 'https://api.test/<[>', methods: ['GET'] } })],
      /rule 'devices': match.url is not a valid regexp pattern/,
    ],
    [
      'an unknown authenticator',
      [valid({ authenticators: [{ handler: 'cookie_session' }] })],
      /rule 'devices': authenticator 'cookie_session' is not supported/,
    ],
    [
      'an unknown authorizer',
      [valid({ authorizer: { handler: 'remote_json' } })],
      /authorizer 'remote_json' is not supported/,
    ],
    [
      'an unknown mutator',
      [valid({ mutators: [{ handler: 'hydrator' }] })],
      /mutator 'hydrator' is not supported/,
    ],
    [
      'a redirect error handler',
      [valid({ errors: [{ handler: 'redirect' }] })],
      /error handler 'redirect' is not supported/,
    ],
    [
      'an unknown option of the header mutator',
      [valid({ mutators: [{ handler: 'header', config: { headers: {}, extra: 1 } }] })],
      /rule 'devices': header config: \(root\) must NOT have additional properties 'extra'/,
    ],
    [
      'a header template that does not parse',
      [valid({ mutators: [{ handler: 'header', config: { headers: { 'X-User': '{{ print .Subject' } } }] })],
      /header X-User: unclosed/,
    ],
    [
      'a bad scope strategy',
      [valid({ authenticators: [{ handler: 'oauth2_introspection', config: { scope_strategy: 'loose' } }] })],
      /oauth2_introspection config: \/scope_strategy must be equal to one of the allowed values/,
    ],
    [
      'pre-authorization, which is not supported',
      [
        valid({
          authenticators: [
            {
              handler: 'oauth2_introspection',
              config: {
                pre_authorization: {
                  enabled: true,
                  client_id: 'a',
                  client_secret: 'b',
                  token_url: 'http://t/',
                },
              },
            },
          ],
        }),
      ],
      /oauth2_introspection config: pre_authorization is not supported/,
    ],
    [
      'an id_token key set per rule',
      [valid({ mutators: [{ handler: 'id_token', config: { jwks_url: 'http://stub/' } }] })],
      /id_token config: jwks_url is the gateway-wide signing key set/,
    ],
    [
      'config on a handler that takes none',
      [valid({ authorizer: { handler: 'allow', config: { x: 1 } } })],
      /allow takes no config/,
    ],
    [
      'a non-http upstream',
      [valid({ upstream: { url: 'file:///etc/passwd' } })],
      /upstream.url must be an http\(s\) URL/,
    ],
  ])('refuses %s with the rule and the problem named', (_label, document, message) => {
    expect(problemOf(document)).toMatch(message);
  });

  it('reports every broken rule at once', () => {
    const message = problemOf([
      valid({ id: 'one', mutators: [] }),
      valid({ id: 'two', authorizer: { handler: 'nope' } }),
    ]);
    expect(message).toMatch(/rule 'one'.*rule 'two'/);
  });
});
