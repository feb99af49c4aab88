import type { RunningService } from '@spincycle/common';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import { start } from '../../src/app.js';
import { IntrospectionServer } from './introspection-server.js';

export const INTERNAL_TOKEN = 'internal-token-for-tests-0123456789abcdef';
const PEPPER = 'pepper-for-tests-0123456789abcdef-0123';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** cert-service on a random port against its own fresh database, with a stand-in introspection server. */
export class CertServiceUnderTest {
  private constructor(
    readonly service: RunningService,
    readonly database: TestDatabase,
    readonly introspection: IntrospectionServer,
  ) {}

  static async start(
    label: string,
    extra: Record<string, string> = {},
    database?: TestDatabase,
  ): Promise<CertServiceUnderTest> {
    const db = database ?? (await createTestDatabase(label));
    const introspection = new IntrospectionServer();
    const introspectionUrl = await introspection.start();
    const service = await start(
      serviceTestEnv(db, {
        PORT: '0',
        INTERNAL_API_TOKEN: INTERNAL_TOKEN,
        SECRET_PEPPER: PEPPER,
        OAUTH2_INTROSPECTION_URL: introspectionUrl,
        ...extra,
      }),
    );
    return new CertServiceUnderTest(service, db, introspection);
  }

  async stop(options: { keepDatabase?: boolean } = {}): Promise<void> {
    await this.service.close();
    await this.introspection.stop();
    if (!options.keepDatabase) await this.database.drop();
  }

  async request(
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const hasBody = init.body !== undefined || init.raw !== undefined;
    const response = await fetch(`${this.service.url}${path}`, {
      method,
      headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  internal(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return this.request(method, `/internal/v1${path}`, {
      body,
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
    });
  }

  /** Calls the webhook endpoint exactly as VerneMQ does: POST, JSON, the hook in `vernemq-hook`. */
  async hook(name: string, body: unknown): Promise<unknown> {
    const answer = await this.request('POST', '/webhooks/vernemq', {
      body,
      headers: { 'vernemq-hook': name },
    });
    if (answer.status !== 200)
      throw new Error(`webhook ${name} answered HTTP ${answer.status}: ${answer.text}`);
    return answer.body;
  }

  async expectOk(answer: Promise<HttpAnswer> | HttpAnswer, status = 200): Promise<HttpAnswer> {
    const settled = await answer;
    if (settled.status !== status)
      throw new Error(`expected HTTP ${status}, got ${settled.status}: ${settled.text}`);
    return settled;
  }
}
