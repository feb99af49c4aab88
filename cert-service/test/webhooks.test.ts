import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAclContract, type AclCase } from './support/acl-contract.js';
import { CertServiceUnderTest } from './support/cert-service.js';
import { loadContractFacts, type ContractCredentials } from './support/contract-facts.js';
import {
  NOT_ALLOWED,
  OK,
  payloadBase64,
  referencePayload,
  referenceRequestFiles,
  requestFor,
} from './support/vernemq.js';

// One service for both the ACL table and the reference replays: neither changes a decision fact.
const contract = loadAclContract();
let sut: CertServiceUnderTest;
let credentials: ContractCredentials;

beforeAll(async () => {
  sut = await CertServiceUnderTest.start('webhooks');
  credentials = await loadContractFacts(sut, contract);
});
afterAll(() => sut.stop());

/** The register request a case describes: the actor's own credentials, then the named change. */
function registerFields(c: Extract<AclCase, { hook: 'auth_on_register' }>): Record<string, unknown> {
  const own = {
    username: c.actor,
    client_id: c.actor,
    password: credentials.passwordOf(c.actor),
    ...(credentials.certificateOf(c.actor) ? { client_cert: credentials.certificateOf(c.actor) } : {}),
  };
  switch (c.change) {
    case undefined:
      return own;
    case 'username is D2 (client id and certificate say D1)':
      return { ...own, username: 'D2' };
    case 'wrong MQTT password':
      return { ...own, password: 'not-the-mqtt-password-of-this-device' };
    case "username is B, password is A's access token":
      return { ...own, username: 'B', client_id: 'B' };
    case 'expired access token':
      return { ...own, password: credentials.expiredTokenOf(c.actor) };
    default:
      throw new Error(`the ACL table names a change this test does not know: ${c.change}`);
  }
}

const label = (c: AclCase) =>
  `${c.actor} ${c.hook} ${'topic' in c ? c.topic : 'topics' in c ? c.topics.join(',') : (c.change ?? 'own credentials')}`;

describe.each([
  { variant: 'MQTT 3.1.1', suffix: '', refusedQos: 128 },
  { variant: 'MQTT 5', suffix: '_m5', refusedQos: 135 },
])(
  `every case of topic-acl.cases.json through the webhook endpoint ($variant, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`,
  ({ suffix, refusedQos }) => {
    it.each(contract.cases.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
      const hook = `${c.hook}${suffix}`;
      if (c.hook === 'auth_on_subscribe') {
        const answer = await sut.hook(
          hook,
          requestFor(hook, {
            username: c.actor,
            client_id: c.actor,
            topics: c.topics.map((topic) => ({ topic, qos: 1 })),
          }),
        );
        const topics = c.topics.map((topic, i) => ({
          topic,
          qos: c.expect[i] === 128 ? refusedQos : c.expect[i],
        }));
        expect(answer).toEqual(
          suffix === '' ? { result: 'ok', topics } : { result: 'ok', modifiers: { topics } },
        );
        return;
      }
      const fields =
        c.hook === 'auth_on_register'
          ? registerFields(c)
          : {
              username: c.actor,
              client_id: c.actor,
              topic: c.topic,
              qos: c.qos,
              retain: c.retain ?? false,
              payload: payloadBase64,
            };
      const answer = (await sut.hook(hook, requestFor(hook, fields))) as Record<string, unknown>;
      if (c.expect === 'ok') expect(answer.result).toBe('ok');
      else expect(answer).toEqual(NOT_ALLOWED);
      if (c.expect === 'ok' && c.hook === 'auth_on_register') expect(answer).toEqual(OK);
    });
  },
);

interface Persona {
  name: string;
  actor: string;
  password?: (c: ContractCredentials) => string;
  /** The client_cert the broker forwards; by default the actor's own certificate, if it has one. */
  clientCert?: (c: ContractCredentials) => string | undefined;
  register: 'ok' | 'not_allowed';
  publish?: { topic: string; expect: 'ok' | 'not_allowed' };
  subscribe?: { topics: string[]; granted: boolean[] };
}

const personas: Persona[] = [
  {
    name: 'owner',
    actor: 'A',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'ok' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [true, true] },
  },
  {
    name: 'stranger',
    actor: 'B',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'not_allowed' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [false, false] },
  },
  {
    name: 'technician with a live control grant',
    actor: 'T2',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'ok' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [true, true] },
  },
  {
    name: 'technician with a live read grant',
    actor: 'T',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'not_allowed' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [true, true] },
  },
  {
    name: 'technician whose grant expired',
    actor: 'T3',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'not_allowed' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [false, false] },
  },
  {
    name: 'technician whose grant was revoked',
    actor: 'T4',
    register: 'ok',
    publish: { topic: 'devices/D1/commands', expect: 'not_allowed' },
    subscribe: { topics: ['devices/D1/state', 'devices/D1/events'], granted: [false, false] },
  },
  {
    name: 'device',
    actor: 'D1',
    register: 'ok',
    publish: { topic: 'devices/D1/events', expect: 'ok' },
    subscribe: {
      topics: ['devices/D1/commands', 'devices/D1/ota', 'devices/D2/commands'],
      granted: [true, true, false],
    },
  },
  {
    name: 'revoked device',
    actor: 'D4',
    register: 'not_allowed',
    publish: { topic: 'devices/D4/events', expect: 'not_allowed' },
    subscribe: { topics: ['devices/D4/commands', 'devices/D4/ota'], granted: [false, false] },
  },
  {
    name: 'device with a wrong password',
    actor: 'D1',
    password: () => 'a-wrong-mqtt-password-000000',
    register: 'not_allowed',
  },
  {
    name: 'device with its MQTT password but no certificate (as over WSS)',
    actor: 'D1',
    clientCert: () => undefined,
    register: 'not_allowed',
  },
  {
    name: "device presenting another device's certificate",
    actor: 'D1',
    clientCert: (c) => c.certificateOf('D2'),
    register: 'not_allowed',
  },
  {
    name: 'user with a wrong token',
    actor: 'A',
    password: () => 'a-token-nobody-issued',
    register: 'not_allowed',
  },
];

const expectDecision = (answer: unknown, expected: 'ok' | 'not_allowed') =>
  expect(answer).toEqual(expected === 'ok' ? OK : NOT_ALLOWED);

describe(`reference VerneMQ payloads replayed (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  const identity = (persona: Persona) => ({ username: persona.actor, client_id: persona.actor });
  const registers = personas.flatMap((p) =>
    ['auth_on_register', 'auth_on_register_m5'].map((hook) => [p.name, hook, p] as const),
  );

  it.each(registers)('%s: %s', async (_name, hook, persona) => {
    const password = (persona.password ?? ((c: ContractCredentials) => c.passwordOf(persona.actor)))(
      credentials,
    );
    const clientCert = (persona.clientCert ?? ((c: ContractCredentials) => c.certificateOf(persona.actor)))(
      credentials,
    );
    const fields = { ...identity(persona), password, ...(clientCert ? { client_cert: clientCert } : {}) };
    expectDecision(await sut.hook(hook, requestFor(hook, fields)), persona.register);
  });

  const publishes = personas.flatMap((p) => {
    const publish = p.publish;
    return publish
      ? ['auth_on_publish', 'auth_on_publish_m5'].map((hook) => [p.name, hook, publish, p] as const)
      : [];
  });

  it.each(publishes)('%s: %s', async (_name, hook, { topic, expect: expected }, persona) => {
    expectDecision(
      await sut.hook(hook, requestFor(hook, { ...identity(persona), topic, payload: payloadBase64 })),
      expected,
    );
  });

  const subscribes = personas.flatMap((p) => (p.subscribe ? [[p.name, p.subscribe, p] as const] : []));

  it.each(subscribes)(
    '%s: auth_on_subscribe and auth_on_subscribe_m5',
    async (_name, { topics, granted }, persona) => {
      const v3 = await sut.hook(
        'auth_on_subscribe',
        requestFor('auth_on_subscribe', {
          ...identity(persona),
          topics: topics.map((topic) => ({ topic, qos: 2 })),
        }),
      );
      expect(v3).toEqual({
        result: 'ok',
        topics: topics.map((topic, i) => ({ topic, qos: granted[i] ? 2 : 128 })),
      });
      const m5 = await sut.hook(
        'auth_on_subscribe_m5',
        requestFor('auth_on_subscribe_m5', {
          ...identity(persona),
          topics: topics.map((topic) => ({
            topic,
            qos: 1,
            no_local: false,
            rap: false,
            retain_handling: 'send_retain',
          })),
        }),
      );
      expect(m5).toEqual({
        result: 'ok',
        modifiers: { topics: topics.map((topic, i) => ({ topic, qos: granted[i] ? 1 : 135 })) },
      });
    },
  );

  it('answers the reference payloads verbatim: unknown user "username" is refused everywhere', async () => {
    for (const hook of ['auth_on_register', 'auth_on_register_m5', 'auth_on_publish', 'auth_on_publish_m5']) {
      expect(await sut.hook(hook, referencePayload(`${hook}.request.json`))).toEqual(NOT_ALLOWED);
    }
    expect(await sut.hook('auth_on_subscribe', referencePayload('auth_on_subscribe.request.json'))).toEqual({
      result: 'ok',
      topics: [
        { topic: 'a/b', qos: 128 },
        { topic: 'c/d', qos: 128 },
      ],
    });
    expect(
      await sut.hook('auth_on_subscribe_m5', referencePayload('auth_on_subscribe_m5.request.json')),
    ).toEqual({
      result: 'ok',
      modifiers: { topics: [{ topic: 'test/topic', qos: 135 }] },
    });
  });

  it('records a device online on on_register and offline on on_client_offline and on_client_gone', async () => {
    const online = async () =>
      ((await sut.internal('GET', '/devices/D1')).body as { online: boolean }).online;
    for (const [hook, expected] of [
      ['on_register', true],
      ['on_client_offline', false],
      ['on_register_m5', true],
      ['on_client_gone', false],
      ['on_client_wakeup', true],
      ['on_client_offline', false],
    ] as const) {
      expect(await sut.hook(hook, requestFor(hook, { client_id: 'D1', username: 'D1' }))).toEqual({});
      expect(await online()).toBe(expected);
    }
  });

  it.each(['on_subscribe', 'on_subscribe_m5'])(
    'answers %s with {} (it only triggers renewal notices, which are off here)',
    async (hook) => {
      expect(await sut.hook(hook, referencePayload(`${hook}.request.json`))).toEqual({});
      const own = { username: 'D1', client_id: 'D1', topics: [{ topic: 'devices/D1/ota', qos: 1 }] };
      expect(await sut.hook(hook, requestFor(hook, own))).toEqual({});
    },
  );

  const unhandled = referenceRequestFiles()
    .map((f) => f.replace('.request.json', ''))
    .filter(
      (hook) =>
        !/^(auth_on_(register|publish|subscribe)(_m5)?|on_(register|subscribe)(_m5)?|on_client_(offline|gone|wakeup))$/.test(
          hook,
        ),
    );

  it.each(unhandled)(
    'refuses %s, a hook cert-service does not serve, rather than answer ok',
    async (hook) => {
      expect(await sut.hook(hook, referencePayload(`${hook}.request.json`))).toEqual(NOT_ALLOWED);
    },
  );

  describe('fails closed on input it cannot trust', () => {
    const valid = () =>
      requestFor('auth_on_publish', {
        username: 'D1',
        client_id: 'D1',
        topic: 'devices/D1/events',
        payload: payloadBase64,
      });

    it('accepts the valid request these cases break', async () => {
      expect(await sut.hook('auth_on_publish', valid())).toEqual(OK);
    });

    it.each([
      ['a missing field', () => ({ ...valid(), topic: undefined })],
      ['a missing client id', () => ({ ...valid(), client_id: undefined })],
      ['a wrong type', () => ({ ...valid(), qos: '1' })],
      ['a QoS out of range', () => ({ ...valid(), qos: 3 })],
      ['a topic that is not a string', () => ({ ...valid(), topic: ['devices/D1/events'] })],
      ['a null body', () => null],
      ['an array body', () => [valid()]],
      ['a foreign mountpoint', () => ({ ...valid(), mountpoint: 'other' })],
      [
        'a username that is not an identifier',
        () => ({ ...valid(), username: 'D1/../D2', client_id: 'D1/../D2' }),
      ],
    ])('refuses a publish with %s', async (_name, body) => {
      expect(await sut.hook('auth_on_publish', body())).toEqual(NOT_ALLOWED);
    });

    it('refuses a register without password or username', async () => {
      expect(
        await sut.hook(
          'auth_on_register',
          requestFor('auth_on_register', { username: 'D1', client_id: 'D1', password: null }),
        ),
      ).toEqual(NOT_ALLOWED);
      expect(
        await sut.hook(
          'auth_on_register',
          requestFor('auth_on_register', { username: null, client_id: 'D1', password: 'x' }),
        ),
      ).toEqual(NOT_ALLOWED);
    });

    it('refuses a subscribe with too many topics as a whole', async () => {
      const topics = Array.from({ length: 101 }, () => ({ topic: 'devices/D1/commands', qos: 1 }));
      expect(
        await sut.hook(
          'auth_on_subscribe',
          requestFor('auth_on_subscribe', { username: 'D1', client_id: 'D1', topics }),
        ),
      ).toEqual(NOT_ALLOWED);
    });

    it('refuses a request without the vernemq-hook header, or with an unknown hook', async () => {
      const missing = await sut.request('POST', '/webhooks/vernemq', { body: valid() });
      expect([missing.status, missing.body]).toEqual([200, NOT_ALLOWED]);
      expect(await sut.hook('auth_on_everything', valid())).toEqual(NOT_ALLOWED);
    });

    it('answers malformed JSON and oversized bodies with a non-200 status, which VerneMQ counts as a refusal', async () => {
      const malformed = await sut.request('POST', '/webhooks/vernemq', {
        raw: '{"username": "D1",',
        headers: { 'vernemq-hook': 'auth_on_publish' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.text).not.toContain('"ok"');
      const oversized = await sut.request('POST', '/webhooks/vernemq', {
        body: { ...valid(), payload: 'A'.repeat(2 * 1024 * 1024) },
        headers: { 'vernemq-hook': 'auth_on_publish' },
      });
      expect(oversized.status).toBe(413);
      expect(oversized.text).not.toContain('"ok"');
      expect((await sut.request('GET', '/health/ready')).status).toBe(200);
    });
  });
});
