import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { start, type HibpService } from '../src/app.js';
import { buildFilter } from '../src/build/builder.js';
import { defaultFilterPath } from '../src/build/default-filter.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex').toUpperCase();
const unknownSha1 = () => sha1(randomBytes(32).toString('base64'));

async function check(service: HibpService, body: unknown, raw?: string) {
  const res = await fetch(`${service.url}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('hibp-service with the default filter', () => {
  let db: TestDatabase;
  let service: HibpService;

  beforeAll(async () => {
    db = await createTestDatabase('hibp');
    service = await start(serviceTestEnv(db, { PORT: '0' }));
  });
  afterAll(async () => {
    await service?.close();
    await db?.drop();
  });

  it('builds the default filter on first start and refuses password123 with no download', async () => {
    expect(existsSync(defaultFilterPath(db.env.DATA_DIR))).toBe(true);
    expect(await check(service, { sha1: sha1('password123') })).toEqual({
      status: 200,
      body: { pwned: true },
    });
    expect(await check(service, { sha1: sha1('123456').toLowerCase() })).toEqual({
      status: 200,
      body: { pwned: true },
    });
  });

  it('answers not pwned for a hash that is not in the list', async () => {
    expect(await check(service, { sha1: unknownSha1() })).toEqual({ status: 200, body: { pwned: false } });
  });

  it.each<[string, unknown, string | undefined, number, string]>([
    ['a body that is not JSON', undefined, 'sha1=abc', 400, 'body must be a JSON object with the field sha1'],
    ['a JSON array', ['x'], undefined, 400, 'body must be a JSON object with the field sha1'],
    ['no sha1', {}, undefined, 400, 'sha1 is required'],
    [
      'a sha1 that is a number',
      { sha1: 42 },
      undefined,
      400,
      'sha1 must be a string of 40 hexadecimal characters',
    ],
    [
      'a sha1 of 39 characters',
      { sha1: 'A'.repeat(39) },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'a sha1 with a non-hex character',
      { sha1: `${'A'.repeat(39)}G` },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    // Characters whose low byte is a hex digit: a latin1 conversion once read these as digits.
    [
      '40 × "İ" (U+0130)',
      { sha1: '\u0130'.repeat(40) },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'Cyrillic lookalikes of a, c and e among hex digits',
      { sha1: `${'\u0430\u0441\u0435'.repeat(3)}${'A'.repeat(31)}` },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'one Latin-Extended "A" (U+0141, low byte 0x41) among hex digits',
      { sha1: `${'B'.repeat(39)}\u0141` },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'full-width digits',
      { sha1: '\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19'.repeat(4) },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'a sha1 of 41 characters',
      { sha1: 'A'.repeat(41) },
      undefined,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'a lookalike sent as a JSON escape (\\u0130)',
      undefined,
      `{"sha1":"${'A'.repeat(39)}\\u0130"}`,
      400,
      'sha1 must be 40 hexadecimal characters',
    ],
    [
      'a plaintext password beside the sha1',
      { sha1: sha1('x'), password: 'hunter2' },
      undefined,
      400,
      'only the field sha1 is accepted (send the SHA-1 of the password, never the password)',
    ],
    [
      'a body over the size limit',
      undefined,
      JSON.stringify({ sha1: 'A'.repeat(5000) }),
      413,
      'body must be at most 1024 bytes',
    ],
  ])('refuses %s with a clear message', async (_case, body, raw, status, message) => {
    const res = await check(service, body, raw);
    expect(res).toEqual({ status, body: { statusCode: status, message } });
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
  });

  it('accepts POST only on /v1/check', async () => {
    const res = await fetch(`${service.url}/v1/check`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers /range with 404 and the reason when no exact index was built', async () => {
    const res = await fetch(`${service.url}/range/CBFDA`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      statusCode: 404,
      message: 'range queries need the exact index (build with --exact-index, set HIBP_EXACT_INDEX_PATH)',
    });
    expect((await fetch(`${service.url}/range/XYZ12`)).status).toBe(400);
  });

  it('is ready once the filter is loaded and counts checks by result in /metrics', async () => {
    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { filter: { status: 'up' } } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/hibp_checks_total\{result="pwned",service="hibp-service"\} [1-9]/);
    expect(metrics).toMatch(/hibp_checks_total\{result="clean",service="hibp-service"\} [1-9]/);
  });

  it('keeps a current default filter at the next start instead of rebuilding it', async () => {
    const path = defaultFilterPath(db.env.DATA_DIR);
    const before = await stat(path);
    const second = await start(serviceTestEnv(db, { PORT: '0' }));
    try {
      expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
      expect(await check(second, { sha1: sha1('password123') })).toEqual({
        status: 200,
        body: { pwned: true },
      });
    } finally {
      await second.close();
    }
  });
});

describe('hibp-service with a built filter and exact index', () => {
  let db: TestDatabase;
  let service: HibpService;
  let filterPath: string;
  const leaked = ['correct horse battery staple', 'Tr0ub4dor&3'].map(sha1);

  async function buildInto(path: string, hashes: string[], exactIndex?: string) {
    const input = join(db.env.DATA_DIR, `corpus-${randomBytes(4).toString('hex')}.txt`);
    await writeFile(input, hashes.map((h, i) => `${h}:${i + 1}`).join('\n'));
    await buildFilter({ input, output: path, exactIndex });
  }

  beforeEach(async () => {
    db = await createTestDatabase('hibp-built');
    filterPath = join(db.env.DATA_DIR, 'corpus.filter');
    const indexPath = join(db.env.DATA_DIR, 'corpus.index');
    await buildInto(filterPath, leaked, indexPath);
    service = await start(
      serviceTestEnv(db, { PORT: '0', HIBP_FILTER_PATH: filterPath, HIBP_EXACT_INDEX_PATH: indexPath }),
    );
  });
  afterEach(async () => {
    await service?.close();
    await db?.drop();
  });

  it.each([
    ['a non-ASCII lookalike of a digit', '\u0130BFDA'],
    ['full-width digits', '\uff11\uff12\uff13\uff14\uff15'],
    ['4 characters', 'CBFD'],
    ['6 characters', 'CBFDAB'],
    ['a percent-encoded NUL', 'CBFD%00'],
  ])('refuses /range with %s, naming the prefix, though an index is loaded', async (_case, prefix) => {
    const res = await fetch(`${service.url}/range/${prefix}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: 400, message: 'prefix must be 5 hexadecimal characters' });
  });

  it('accepts the same sha1 in any JSON spelling, and answers it like the usual one', async () => {
    const spaced = `{ "sha1" : "${leaked[0]!.toLowerCase()}" }`;
    expect(await check(service, undefined, spaced)).toEqual({ status: 200, body: { pwned: true } });
    const first = leaked[0]!.charCodeAt(0).toString(16).padStart(4, '0');
    const escaped = `{"\\u0073ha1":"\\u${first}${leaked[0]!.slice(1)}"}`;
    expect(await check(service, undefined, escaped)).toEqual({ status: 200, body: { pwned: true } });
  });

  it('answers from the configured filter, and /range in the HIBP format', async () => {
    expect(await check(service, { sha1: leaked[0] })).toEqual({ status: 200, body: { pwned: true } });
    expect(await check(service, { sha1: sha1('password123') })).toEqual({
      status: 200,
      body: { pwned: false },
    });
    const res = await fetch(`${service.url}/range/${leaked[1]!.slice(0, 5).toLowerCase()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe(`${leaked[1]!.slice(5)}:2`);
  });

  it('swaps in a new filter file when it replaces the old one, without a restart', async () => {
    const next = sha1('a password leaked later');
    expect(await check(service, { sha1: next })).toEqual({ status: 200, body: { pwned: false } });
    const loaded = once(service.filters, 'loaded');
    const staging = join(db.env.DATA_DIR, 'staging.filter');
    await buildInto(staging, [...leaked, next]);
    await rename(staging, filterPath);
    await loaded;
    expect(await check(service, { sha1: next })).toEqual({ status: 200, body: { pwned: true } });
  });

  it('keeps the filter in use when the new file is corrupt, and says why', async () => {
    const failed = once(service.filters, 'reload-failed');
    const raw = await readFile(filterPath);
    raw[raw.length - 1]! ^= 0xff;
    const staging = join(db.env.DATA_DIR, 'staging.filter');
    await writeFile(staging, raw);
    await rename(staging, filterPath);
    const [error] = (await failed) as [Error];
    expect(error.message).toMatch(/body checksum mismatch/);
    expect(await check(service, { sha1: leaked[0] })).toEqual({ status: 200, body: { pwned: true } });
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
  });

  it('reloads on SIGHUP', async () => {
    // A second instance on the same file without the file watch: its reload can only come from the signal.
    const unwatched = await start(
      serviceTestEnv(db, { PORT: '0', HIBP_FILTER_PATH: filterPath, HIBP_WATCH_FILTER: 'false' }),
    );
    try {
      const next = sha1('another later leak');
      const staging = join(db.env.DATA_DIR, 'staging.filter');
      await buildInto(staging, [next]);
      await rename(staging, filterPath);
      const loaded = once(unwatched.filters, 'loaded');
      process.kill(process.pid, 'SIGHUP');
      await loaded;
      expect(await check(unwatched, { sha1: next })).toEqual({ status: 200, body: { pwned: true } });
    } finally {
      await unwatched.close();
    }
  });

  it('refuses to start on a corrupt filter file, naming the problem', async () => {
    const broken = join(db.env.DATA_DIR, 'broken.filter');
    await writeFile(broken, 'not a filter at all, just text');
    await expect(start(serviceTestEnv(db, { PORT: '0', HIBP_FILTER_PATH: broken }))).rejects.toThrow(
      `filter file ${broken} refused: truncated header (30 of 128 bytes)`,
    );
  });
});

describe('build CLI', () => {
  const cli = fileURLToPath(new URL('../dist/cli/build.js', import.meta.url));
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase('hibp-cli')));
  afterAll(() => db?.drop());

  it('builds from bare hashes, reports malformed lines, and prints plain progress when stderr is not a terminal', async () => {
    const input = join(db.env.DATA_DIR, 'bare.txt');
    const output = join(db.env.DATA_DIR, 'bare.filter');
    await writeFile(input, `${sha1('a')}\n${sha1('b').toLowerCase()}\nbogus\n`);
    const child = spawn(process.execPath, [cli, input, output, '--fp-rate', '1e-4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(stderr).not.toContain('\r');
    expect(stderr).toContain('build: line 3 is malformed: "bogus"');
    expect(stderr).toContain('build: 2 well-formed lines, 1 malformed, 0 below the minimum count');
    expect(stderr).toMatch(/^count: 100\.0% 2 lines, [\d.k]+ lines\/s, ETA 0s$/m);
    expect(stderr).toMatch(/expected false-positive rate \d\.\d\de-\d+ \(target 1\.00e-4\)/);
    expect(existsSync(output)).toBe(true);
  });

  it('exits with a usage message on bad arguments', async () => {
    const child = spawn(process.execPath, [cli, 'only-one-path'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('build: expected an input and an output path\nusage: build <input> <output>');
  });
});
