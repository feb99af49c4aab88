import { describe, expect, it } from 'vitest';
import { dateHeaderLine, FOREIGN, INCOMPLETE, readRequestHead, responseHead } from './http1.js';

const paths = new Set(['/hook']);
const limits = { maxHeadBytes: 256, maxBodyBytes: 64 };
const head = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n{}`);
const valid = ['POST /hook HTTP/1.1', 'host: x', 'content-type: application/json', 'content-length: 2'];
const withLine = (line: string) => head([...valid, line]);

describe('readRequestHead', () => {
  it('reads a request it can read without doubt', () => {
    const buffer = head([...valid, 'Vernemq-Hook:  auth_on_publish  ', 'x-empty:']);
    expect(readRequestHead(buffer, paths, limits)).toEqual({
      path: '/hook',
      headers: {
        host: 'x',
        'content-type': 'application/json',
        'content-length': '2',
        'vernemq-hook': 'auth_on_publish',
        'x-empty': '',
      },
      headLength: buffer.length - 2,
      bodyLength: 2,
      close: false,
    });
  });

  it.each([
    ['connection: close', true],
    ['Connection: Close', true],
    ['connection: keep-alive', false],
  ])('reads %s', (line, close) => {
    expect(readRequestHead(withLine(line), paths, limits)).toMatchObject({ close });
  });

  it.each([
    ['a part of a head', Buffer.from('POST /hook HTTP/1.1\r\nhost: x\r\n')],
    ['the first bytes of POST', Buffer.from('PO')],
  ])('waits for more of %s', (_name, buffer) => {
    expect(readRequestHead(buffer, paths, limits)).toBe(INCOMPLETE);
  });

  it.each([
    ['another method', head(['GET /hook HTTP/1.1', 'host: x', 'content-length: 2'])],
    ['the first bytes of another method', Buffer.from('GE')],
    ['a lower-case method', head(['post /hook HTTP/1.1', 'content-length: 2'])],
    ['HTTP/1.0', head(['POST /hook HTTP/1.0', 'content-length: 2'])],
    ['another path', head(['POST /other HTTP/1.1', 'content-length: 2'])],
    ['a query', head(['POST /hook?a=1 HTTP/1.1', 'content-length: 2'])],
    ['an absolute URI', head(['POST http://x/hook HTTP/1.1', 'content-length: 2'])],
    ['two spaces in the request line', head(['POST  /hook HTTP/1.1', 'content-length: 2'])],
    ['no content-length', head(['POST /hook HTTP/1.1', 'host: x'])],
    ['no host', head(['POST /hook HTTP/1.1', 'content-type: application/json', 'content-length: 2'])],
    ['transfer-encoding', withLine('transfer-encoding: chunked')],
    ['Transfer-Encoding beside a length', withLine('Transfer-Encoding: identity')],
    ['expect', withLine('expect: 100-continue')],
    ['upgrade', withLine('upgrade: websocket')],
    ['a repeated content-length', withLine('content-length: 2')],
    ['a repeated header of any name', head([...valid, 'x-a: 1', 'X-A: 2'])],
    ['a signed length', head(['POST /hook HTTP/1.1', 'content-length: +2'])],
    ['a length list', head(['POST /hook HTTP/1.1', 'content-length: 2, 2'])],
    ['a length over the limit', head(['POST /hook HTTP/1.1', 'content-length: 65'])],
    ['an obs-fold continuation line', withLine(' folded')],
    ['a space before the colon', withLine('x-a : 1')],
    ['a bare LF inside a value', withLine('x-a: 1\n2')],
    ['a control byte in a value', withLine('x-a: \u0001')],
    ['a byte above ASCII in a value', withLine('x-a: é')],
    ['another connection option', withLine('connection: upgrade')],
    ['a head longer than the limit', withLine(`x-long: ${'a'.repeat(256)}`)],
    ['no head end within the limit', Buffer.from(`POST /hook HTTP/1.1\r\nx: ${'a'.repeat(300)}`)],
  ])('leaves %s to node:http', (_name, buffer) => {
    expect(readRequestHead(buffer, paths, limits)).toBe(FOREIGN);
  });
});

describe('responseHead', () => {
  it('writes the status line and one line per header, skipping undefined ones', () => {
    expect(
      responseHead(200, { 'content-type': 'application/json', 'content-length': 2, skip: undefined }),
    ).toBe('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n');
  });

  it.each([
    ['a value with CR LF', { 'x-a': 'ok\r\nset-cookie: a=b' }],
    ['a name with a space', { 'x a': '1' }],
  ])('refuses %s, as writeHead does', (_name, headers) => {
    expect(() => responseHead(200, headers)).toThrow(TypeError);
  });

  it('refuses a status that is not one', () => {
    expect(() => responseHead(999, {})).toThrow(RangeError);
  });
});

describe('dateHeaderLine', () => {
  it('formats the second as an HTTP date', () => {
    expect(dateHeaderLine(Date.UTC(2026, 11, 2, 3, 4, 5, 600))).toBe(
      'date: Wed, 02 Dec 2026 03:04:05 GMT\r\n',
    );
  });
});
