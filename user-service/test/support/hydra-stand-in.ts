import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contractProblems } from '../../../auth-server/test/support/hydra-contract.js';

type Json = Record<string, unknown>;

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

interface Flow {
  request: Json;
  redirectTo?: string;
}

/**
 * Ory Hydra's admin API as its OpenAPI document describes it, for the calls user-service makes:
 * login, consent and logout requests (get, accept, reject, 410 once decided) and session
 * revocation. Every request body is checked against Hydra's schema (a bad one gets
 * Hydra's 400 `errorOAuth2`), and every answer is checked before it is sent.
 */
export class HydraStandIn {
  readonly calls: RecordedCall[] = [];
  private readonly login = new Map<string, Flow>();
  private readonly consent = new Map<string, Flow>();
  private readonly logout = new Map<string, Flow>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A login request as Hydra would hold it after /oauth2/auth; returns its challenge. */
  addLoginRequest(options: { skip?: boolean; subject?: string; client?: Json } = {}): string {
    const challenge = randomBytes(16).toString('hex');
    this.login.set(challenge, {
      request: {
        challenge,
        skip: options.skip ?? false,
        subject: options.subject ?? '',
        client: options.client ?? { client_id: 'spincycle-mobile', skip_consent: true },
        request_url: 'https://hydra.example/oauth2/auth?client_id=spincycle-mobile',
        requested_scope: ['openid', 'offline_access'],
        requested_access_token_audience: [],
      },
    });
    return challenge;
  }

  addConsentRequest(options: { subject: string; client: Json; scopes?: string[] }): string {
    const challenge = randomBytes(16).toString('hex');
    this.consent.set(challenge, {
      request: {
        challenge,
        skip: false,
        subject: options.subject,
        client: options.client,
        requested_scope: options.scopes ?? ['openid', 'offline_access'],
        requested_access_token_audience: ['spincycle-api'],
        request_url: 'https://hydra.example/oauth2/auth?client_id=x',
      },
    });
    return challenge;
  }

  addLogoutRequest(subject: string): string {
    const challenge = randomBytes(16).toString('hex');
    this.logout.set(challenge, {
      request: {
        challenge,
        subject,
        sid: 'sid-1',
        request_url: 'https://hydra.example/oauth2/sessions/logout',
        rp_initiated: true,
      },
    });
    return challenge;
  }

  callsTo(method: string, path: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    const form = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const body: unknown =
      text === '' ? undefined : form ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text);
    const call = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
    };
    this.calls.push(call);
    const answer = this.route(call);
    if (answer.schema) {
      const problems = contractProblems(answer.schema, answer.body);
      if (problems.length > 0)
        throw new Error(`stand-in answer breaks ${answer.schema}: ${problems.join(', ')}`);
    }
    res.writeHead(answer.status, answer.body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
  }

  private route(call: RecordedCall): { status: number; body?: unknown; schema?: string } {
    const base = '/admin/oauth2/auth/requests/';
    if (call.path.startsWith(base)) {
      const [kind, action = 'get'] = call.path.slice(base.length).split('/') as [string, string | undefined];
      const flows =
        kind === 'login'
          ? this.login
          : kind === 'consent'
            ? this.consent
            : kind === 'logout'
              ? this.logout
              : undefined;
      const challenge = call.query[`${kind}_challenge`];
      const flow = challenge ? flows?.get(challenge) : undefined;
      if (!flows) return notFound();
      if (!challenge) return error(400, 'invalid_request', `${kind}_challenge is required`);
      if (!flow) return notFound();
      if (call.method === 'GET' && action === 'get') {
        if (flow.redirectTo)
          return { status: 410, body: { redirect_to: flow.redirectTo }, schema: 'oAuth2RedirectTo' };
        return {
          status: 200,
          body: flow.request,
          schema:
            kind === 'login'
              ? 'oAuth2LoginRequest'
              : kind === 'consent'
                ? 'oAuth2ConsentRequest'
                : 'oAuth2LogoutRequest',
        };
      }
      if (call.method !== 'PUT' || (action !== 'accept' && action !== 'reject')) return notFound();
      const schema =
        action === 'reject'
          ? 'rejectOAuth2Request'
          : kind === 'login'
            ? 'acceptOAuth2LoginRequest'
            : kind === 'consent'
              ? 'acceptOAuth2ConsentRequest'
              : undefined;
      if (schema) {
        const problems = contractProblems(schema, call.body ?? {});
        if (kind === 'login' && action === 'accept' && !(call.body as Json | undefined)?.subject)
          problems.push('subject is required');
        if (problems.length > 0) return error(400, 'invalid_request', problems.join('; '));
      }
      if (flow.redirectTo) return error(409, 'invalid_request', 'the request was already handled');
      if (kind === 'logout' && action === 'reject') {
        flows.delete(challenge);
        return { status: 204 };
      }
      flow.redirectTo = `https://hydra.example/oauth2/auth?${kind}_verifier=${randomBytes(8).toString('hex')}`;
      return { status: 200, body: { redirect_to: flow.redirectTo }, schema: 'oAuth2RedirectTo' };
    }
    if (call.method === 'DELETE' && call.path === '/admin/oauth2/auth/sessions/consent') {
      // Hydra's revokeOAuth2ConsentSessions (consent/handler.go): a subject, and either one client
      // or all=true; without both it answers 400 rather than revoke everything.
      const { subject, client, all } = call.query;
      if (!subject) return error(400, 'invalid_request', "Query parameter 'subject' is not defined");
      if (all !== undefined && all !== 'true' && all !== 'false')
        return error(400, 'invalid_request', 'all must be a boolean');
      if (!client && all !== 'true')
        return error(400, 'invalid_request', "Query parameter both 'client' and 'all' is not defined");
      return { status: 204 };
    }
    if (call.method === 'DELETE' && call.path === '/admin/oauth2/auth/sessions/login') {
      if (!call.query.subject && !call.query.sid)
        return error(400, 'invalid_request', "Either 'subject' or 'sid' query parameters need to be defined");
      return { status: 204 };
    }
    return notFound();
  }
}

function error(status: number, code: string, description: string) {
  return {
    status,
    body: { error: code, error_description: description, status_code: status },
    schema: 'errorOAuth2',
  };
}

function notFound() {
  return error(404, 'Not Found', 'Unable to locate the requested resource');
}
