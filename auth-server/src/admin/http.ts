import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '@spincycle/common';
import { type z } from 'zod';

/** An error in Hydra's `errorOAuth2` shape, with the status it is sent with. */
export class AdminError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }

  static notFound(what: string): AdminError {
    return new AdminError(404, 'Not Found', `Unable to locate the requested resource: ${what}`);
  }

  static badRequest(description: string): AdminError {
    return new AdminError(400, 'invalid_request', description);
  }
}

export function sendAdminError(res: ServerResponse, err: AdminError): void {
  sendJson(res, err.statusCode, {
    error: err.error,
    error_description: err.description,
    status_code: err.statusCode,
  });
}

const BODY_LIMIT_BYTES = 64 * 1024;

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT_BYTES) throw new AdminError(413, 'invalid_request', 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON body (an empty body counts as `{}`) against the schema. */
export async function jsonBody<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const text = await readText(req);
  let value: unknown = {};
  if (text.trim().length > 0) {
    try {
      value = JSON.parse(text);
    } catch {
      throw AdminError.badRequest('the request body is not valid JSON');
    }
  }
  return validated(schema, value);
}

/** Parses an application/x-www-form-urlencoded body against the schema. */
export async function formBody<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw AdminError.badRequest('expected an application/x-www-form-urlencoded body');
  }
  return validated(schema, Object.fromEntries(new URLSearchParams(await readText(req))));
}

export function validated<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.map(String).join('.') || 'body';
  throw AdminError.badRequest(`${where}: ${issue?.message ?? 'invalid'}`);
}

/** A required query parameter, such as `login_challenge`. */
export function queryParam(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (!value) throw AdminError.badRequest(`the query parameter ${name} is required`);
  return value;
}
