import type { IncomingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';

/**
 * A refusal of the access pipeline, answered with Oathkeeper's JSON error envelope. The message is
 * shown to the client, so it never carries a token, a secret or an upstream's error text; `reason`
 * is for the log only.
 */
export class PipelineError extends Error {
  override name = 'PipelineError';
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** https://www.ory.sh/docs/oathkeeper/pipeline/error#json */
  body(): { error: { code: number; status: string; message: string } } {
    return {
      error: { code: this.status, status: STATUS_CODES[this.status] ?? 'Error', message: this.message },
    };
  }
}

export const unauthorized = (reason: string) =>
  new PipelineError(401, 'Access credentials are invalid', reason);
export const forbidden = (reason: string) =>
  new PipelineError(403, 'Access credentials are not sufficient to access this resource', reason);
export const internal = (reason: string) =>
  new PipelineError(
    500,
    'An internal server error occurred, please contact the system administrator',
    reason,
  );

/** What the pipeline knows about the request: the URL it matched and the client's headers. */
export interface PipelineRequest {
  method: string;
  /** `scheme://host/path`, cleaned, without the query: what the rule matched. */
  url: URL;
  /** The query string of the original request, for `token_from.query_parameter`. */
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  captures: string[];
}

/** Oathkeeper's AuthenticationSession. */
export interface AuthenticationSession {
  subject: string;
  extra: Record<string, unknown>;
  /** Headers the mutators set on the upstream request. */
  header: Record<string, string>;
  /**
   * Whether the client's own Authorization header goes upstream. Only `noop` forwards it: every
   * other authenticator consumed the credential, and a mutator decides what replaces it.
   */
  forwardCredentials: boolean;
}

/** Returned by an authenticator that finds no credential of its kind; the next one is tried. */
export const NOT_RESPONSIBLE = Symbol('not responsible');

export interface Authenticator {
  authenticate(request: PipelineRequest): Promise<AuthenticationSession | typeof NOT_RESPONSIBLE>;
}

export interface Authorizer {
  authorize(session: AuthenticationSession, request: PipelineRequest): Promise<void>;
}

export interface Mutator {
  mutate(session: AuthenticationSession, request: PipelineRequest): Promise<void>;
}
