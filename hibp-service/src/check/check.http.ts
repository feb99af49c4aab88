import type { ServerResponse } from 'node:http';
import { readBody, RequestRefused, sendJson, type RouteHandler } from '@spincycle/common';
import { decodeSha1Hex, isHex, parseSha1Hex, SHA1_BYTES, SHA1_HEX_LENGTH } from '../filter/sha1.js';
import type { ExactIndex } from '../range/exact-index.js';
import { CheckService, FilterUnavailable } from './check.service.js';

/** A SHA-1 in JSON is under 60 bytes; anything much larger is not a check request. */
export const MAX_BODY_BYTES = 1024;
const RANGE_PREFIX = '/range/';
const RANGE_PREFIX_LENGTH = 5;

/**
 * The body every well-behaved client sends (JSON.stringify({ sha1 })), byte for byte. Such a body is
 * decoded straight from the request bytes; anything else, including the same object with spaces or
 * escapes, goes through JSON.parse and gets the same answer, only slower.
 */
const CANONICAL_HEAD = Buffer.from('{"sha1":"', 'latin1');
const CANONICAL_TAIL = Buffer.from('"}', 'latin1');
const CANONICAL_BYTES = CANONICAL_HEAD.length + SHA1_HEX_LENGTH + CANONICAL_TAIL.length;

/** The two answers of /v1/check, prepared once: the same bytes sendJson would write. */
const ANSWER_TYPE = 'application/json; charset=utf-8';
const PWNED = JSON.stringify({ pwned: true });
const CLEAN = JSON.stringify({ pwned: false });

/**
 * The HTTP routes: thin, they only map requests to CheckService and the exact index. The request
 * body is never logged nor echoed, and any field other than `sha1` is refused, so a client that sends
 * a plaintext password by mistake gets a 400 and the password goes nowhere.
 */
export function checkRoutes(checks: CheckService, index: ExactIndex | undefined): RouteHandler {
  // One digest for every request: parsing and lookup run without an await in between, so no two
  // requests ever share it at the same time.
  const digest = new Uint8Array(SHA1_BYTES);
  return async (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path === '/v1/check') {
      if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST');
      try {
        const pwned = checks.isPwned(parseCheckBody(await readBody(req, MAX_BODY_BYTES), digest));
        const body = pwned ? PWNED : CLEAN;
        res.writeHead(200, { 'content-type': ANSWER_TYPE, 'content-length': body.length });
        res.end(body);
      } catch (err) {
        if (err instanceof RequestRefused)
          sendJson(res, err.status, { statusCode: err.status, message: err.message });
        else if (err instanceof FilterUnavailable)
          sendJson(res, 503, { statusCode: 503, message: err.message });
        else throw err;
      }
      return '/v1/check';
    }
    if (path.startsWith(RANGE_PREFIX)) {
      if (req.method !== 'GET') return methodNotAllowed(res, '/range/{prefix}', 'GET');
      const prefix = path.slice(RANGE_PREFIX.length);
      if (!isHex(prefix, RANGE_PREFIX_LENGTH)) {
        sendJson(res, 400, { statusCode: 400, message: 'prefix must be 5 hexadecimal characters' });
      } else if (!index) {
        sendJson(res, 404, {
          statusCode: 404,
          message: 'range queries need the exact index (build with --exact-index, set HIBP_EXACT_INDEX_PATH)',
        });
      } else {
        const body = await index.range(Number.parseInt(prefix, 16));
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

/** Whether `raw` has the canonical body's shape around its 40 characters (not yet checked as hex). */
function isCanonical(raw: Buffer): boolean {
  if (raw.length !== CANONICAL_BYTES) return false;
  // A loop, not Buffer#compare: a call into C++ costs more than these eleven bytes.
  for (let i = 0; i < CANONICAL_HEAD.length; i++) if (raw[i] !== CANONICAL_HEAD[i]) return false;
  const tail = CANONICAL_BYTES - CANONICAL_TAIL.length;
  for (let i = 0; i < CANONICAL_TAIL.length; i++) if (raw[tail + i] !== CANONICAL_TAIL[i]) return false;
  return true;
}

/**
 * The body must be exactly `{ "sha1": "<40 hex digits>" }`; returns the digest, written into
 * `target`. The messages name the field, never a value.
 */
export function parseCheckBody(raw: Buffer, target: Uint8Array): Uint8Array {
  if (isCanonical(raw) && decodeSha1Hex(raw, CANONICAL_HEAD.length, target)) return target;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RequestRefused(400, 'body must be a JSON object with the field sha1');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestRefused(400, 'body must be a JSON object with the field sha1');
  }
  const extra = Object.keys(body).filter((key) => key !== 'sha1');
  if (extra.length > 0) {
    throw new RequestRefused(
      400,
      `only the field sha1 is accepted (send the SHA-1 of the password, never the password)`,
    );
  }
  const { sha1 } = body as { sha1?: unknown };
  if (sha1 === undefined) throw new RequestRefused(400, 'sha1 is required');
  if (typeof sha1 !== 'string')
    throw new RequestRefused(400, 'sha1 must be a string of 40 hexadecimal characters');
  const digest = parseSha1Hex(sha1, target);
  if (!digest) throw new RequestRefused(400, 'sha1 must be 40 hexadecimal characters');
  return digest;
}
