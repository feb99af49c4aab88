import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

/**
 * The narrow part of HTTP/1.1 that DirectConnection reads itself: a request head it can read
 * without doubt, or no answer at all. Anything else (another method, version or path, a transfer
 * coding, `expect`, `upgrade`, a repeated header, a byte outside the grammar, a head longer than
 * node:http would take) is `FOREIGN`, and the connection goes to node:http from that request's
 * first byte on: two parsers never disagree about where a request ends, because only one of them
 * ever reads a given request.
 */
export const FOREIGN = 'foreign';
/** The head is not complete yet. */
export const INCOMPLETE = 'incomplete';

export interface RequestHead {
  path: string;
  /** Names lower-cased, each at most once. */
  headers: IncomingHttpHeaders;
  /** Bytes from the buffer's start to the body. */
  headLength: number;
  bodyLength: number;
  /** The client asked to close after this answer. */
  close: boolean;
}

export interface HeadLimits {
  /** Longest head read here; node:http refuses a longer one itself (431). */
  maxHeadBytes: number;
  /** Longest body read here; node:http's route answers a longer one (413). */
  maxBodyBytes: number;
}

/** The blank line that ends a head. */
export const HEAD_END = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^POST (\/[!-~]*) HTTP\/1\.1$/;
/** RFC 9110 field-name token, then a value of visible ASCII, spaces and tabs (no obs-text). */
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e]*?)[ \t]*$/;
const DIGITS = /^\d{1,15}$/;
/** Fields whose presence means framing or semantics this reader does not implement. */
const REFUSED_FIELDS = new Set(['transfer-encoding', 'expect', 'upgrade', 'http2-settings']);

/**
 * Reads one request head from the start of `buffer`, for paths in `paths` only.
 * Returns INCOMPLETE while more bytes could still make it one, FOREIGN when it is not one to read here.
 */
export function readRequestHead(
  buffer: Buffer,
  paths: { has(path: string): boolean },
  limits: HeadLimits,
): RequestHead | typeof FOREIGN | typeof INCOMPLETE {
  const end = buffer.indexOf(HEAD_END);
  if (end < 0 || end + 4 > limits.maxHeadBytes) {
    return buffer.length >= limits.maxHeadBytes || !couldBePost(buffer) ? FOREIGN : INCOMPLETE;
  }
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const requestLine = REQUEST_LINE.exec(lines[0] ?? '');
  if (requestLine === null || !paths.has(requestLine[1]!)) return FOREIGN;
  const headers: IncomingHttpHeaders = {};
  for (let i = 1; i < lines.length; i++) {
    const field = FIELD.exec(lines[i]!);
    if (field === null) return FOREIGN;
    const name = field[1]!.toLowerCase();
    if (REFUSED_FIELDS.has(name) || Object.hasOwn(headers, name)) return FOREIGN;
    headers[name] = field[2]!;
  }
  // node:http refuses an HTTP/1.1 request without one (400): so must this reader, by leaving it there.
  if (headers.host === undefined) return FOREIGN;
  const length = headers['content-length'];
  if (length === undefined || !DIGITS.test(length)) return FOREIGN;
  const bodyLength = Number(length);
  if (bodyLength > limits.maxBodyBytes) return FOREIGN;
  const connection = headers.connection?.toLowerCase();
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') return FOREIGN;
  return {
    path: requestLine[1]!,
    headers,
    headLength: end + 4,
    bodyLength,
    close: connection === 'close',
  };
}

const POST = Buffer.from('POST ');

/** Whether the bytes so far can still begin a request read here: decides early for other methods. */
function couldBePost(buffer: Buffer): boolean {
  const n = Math.min(buffer.length, POST.length);
  return buffer.subarray(0, n).equals(POST.subarray(0, n));
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * A response's status line and header lines, without the date and the blank line that ends them.
 * Throws on a name or value that would not be one header line, as node:http's writeHead does.
 */
export function responseHead(status: number, headers: OutgoingHttpHeaders): string {
  const reason = STATUS_CODES[status];
  if (!Number.isInteger(status) || status < 100 || status > 599 || reason === undefined) {
    throw new RangeError(`not an HTTP status: ${status}`);
  }
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = String(value);
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(text)) {
      throw new TypeError(`invalid response header ${JSON.stringify(name)}`);
    }
    head += `${name}: ${text}\r\n`;
  }
  return head;
}

let dateSecond = -1;
let dateLine = '';

/** The `date` header line, formatted once a second, as node:http does. */
export function dateHeaderLine(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}
