import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type RouteHandler } from '@spincycle/common';
import type { ExactIndex } from '../range/exact-index.js';
import { CheckService, FilterUnavailable, InvalidSha1 } from './check.service.js';

/** A SHA-1 in JSON is under 60 bytes; anything much larger is not a check request. */
export const MAX_BODY_BYTES = 1024;
const RANGE_PATH = /^\/range\/([0-9A-Fa-f]{5})$/;

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The HTTP routes: thin, they only map requests to CheckService and the exact index. The request
 * body is never logged nor echoed, and any field other than `sha1` is refused, so a client that sends
 * a plaintext password by mistake gets a 400 and the password goes nowhere.
 */
export function checkRoutes(checks: CheckService, index: ExactIndex | undefined): RouteHandler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/v1/check') {
      if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST');
      try {
        const sha1 = parseCheckBody(await readBody(req));
        sendJson(res, 200, { pwned: checks.isPwned(sha1) });
      } catch (err) {
        if (err instanceof BadRequest)
          sendJson(res, err.status, { statusCode: err.status, message: err.message });
        else if (err instanceof InvalidSha1) sendJson(res, 400, { statusCode: 400, message: err.message });
        else if (err instanceof FilterUnavailable)
          sendJson(res, 503, { statusCode: 503, message: err.message });
        else throw err;
      }
      return '/v1/check';
    }
    const range = RANGE_PATH.exec(path);
    if (range || path.startsWith('/range/')) {
      if (req.method !== 'GET') return methodNotAllowed(res, '/range/{prefix}', 'GET');
      if (!range) {
        sendJson(res, 400, { statusCode: 400, message: 'prefix must be 5 hexadecimal characters' });
      } else if (!index) {
        sendJson(res, 404, {
          statusCode: 404,
          message: 'range queries need the exact index (build with --exact-index, set HIBP_EXACT_INDEX_PATH)',
        });
      } else {
        const body = await index.range(Number.parseInt(range[1]!, 16));
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      }
      return '/range/{prefix}';
    }
    sendJson(res, 404, { statusCode: 404, message: 'not found' });
    return 'unmatched';
  };
}

function methodNotAllowed(res: ServerResponse, route: string, allow: string): string {
  sendJson(res, 405, { statusCode: 405, message: `${route} accepts ${allow} only` }, { allow });
  return route;
}

/** Reads the body up to MAX_BODY_BYTES; a longer one is refused without reading the rest. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_BODY_BYTES) {
      reject(new BadRequest(413, `body must be at most ${MAX_BODY_BYTES} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) {
        reject(new BadRequest(413, `body must be at most ${MAX_BODY_BYTES} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The body must be exactly `{ "sha1": "<string>" }`; the messages name the field, never a value. */
export function parseCheckBody(raw: Buffer): string {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest(400, 'body must be a JSON object with the field sha1');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest(400, 'body must be a JSON object with the field sha1');
  }
  const extra = Object.keys(body).filter((key) => key !== 'sha1');
  if (extra.length > 0) {
    throw new BadRequest(
      400,
      `only the field sha1 is accepted (send the SHA-1 of the password, never the password)`,
    );
  }
  const { sha1 } = body as { sha1?: unknown };
  if (sha1 === undefined) throw new BadRequest(400, 'sha1 is required');
  if (typeof sha1 !== 'string')
    throw new BadRequest(400, 'sha1 must be a string of 40 hexadecimal characters');
  return sha1;
}
