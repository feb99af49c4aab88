/**
 * The benchmark's fallback where no C compiler builds paced-load.c, its twin, which reads the
 * figure: this one costs as much CPU per request as the service it measures.
 *
 * An open-loop HTTP/1.1 load generator for one prebuilt request: requests leave on schedule whether
 * or not earlier ones were answered, over a pool of keep-alive connections with one request in
 * flight each (as VerneMQ's webhook pool sends them), and each latency counts from when its request
 * was due, so a stall delays every request queued behind it in the figures too.
 *
 * Written for the benchmark because neither client at hand measures this: autocannon's rate option
 * sends each second's quota in one burst and then waits, so it measures bursts; undici's Pool cost
 * the load generator more CPU per request than the service under test spends, on this 2-core
 * machine, and could not offer 15,000 requests/s. This client writes one prebuilt buffer per
 * request and reads only the status line and content-length of each answer.
 */
import { connect } from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;
/** How node:http spells it; other spellings take the regular expression. */
const CONTENT_LENGTH_LOWER = Buffer.from('\r\ncontent-length: ');
const DIGIT_0 = 0x30;

/** The body length an answer's header announces, read from the bytes without decoding them. */
function contentLength(buffer, headerEnd) {
  const at = buffer.indexOf(CONTENT_LENGTH_LOWER);
  if (at < 0 || at > headerEnd) {
    return Number(CONTENT_LENGTH.exec(buffer.toString('latin1', 0, headerEnd))?.[1] ?? 0);
  }
  let length = 0;
  for (let i = at + CONTENT_LENGTH_LOWER.length; i < headerEnd; i++) {
    const digit = buffer[i] - DIGIT_0;
    if (digit < 0 || digit > 9) break;
    length = length * 10 + digit;
  }
  return length;
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

/** The one request a run sends, whole: head and body, as both clients write it. */
export function requestBytes(options) {
  const body = Buffer.from(options.body);
  const head = [
    `POST ${options.path} HTTP/1.1`,
    `host: ${options.host}:${options.port}`,
    'connection: keep-alive',
    `content-length: ${body.length}`,
    ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
  ].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);
}

/**
 * @param {{ host: string, port: number, path: string, headers: Record<string, string>, body: string,
 *   rate: number, seconds: number, connections: number, accept: (status: number, body: Buffer) => boolean }} options
 * @returns {Promise<{ perSecond: number, p99: number, errors: number, sent: number,
 *   client: { sendLagP99: number, maxTickGap: number, cpuMicroseconds: number } }>}
 */
export async function pacedLoad(options) {
  const { rate, seconds } = options;
  const total = Math.round(rate * seconds);
  const request = requestBytes(options);

  const latencies = new Float64Array(total);
  /** How late each request left this process, due to write: the client's own share of latency. */
  const sendLags = new Float64Array(total);
  let answered = 0;
  let errors = 0;
  /** Requests due so far; those from `sent` on wait for a free connection, oldest first. */
  let due = 0;
  let sent = 0;
  let maxTickGap = 0;
  const idle = [];
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  let start = 0;
  const dueTime = (index) => start + (index * 1000) / rate;

  const record = (dueAt, ok) => {
    if (!ok) errors++;
    latencies[answered++] = performance.now() - dueAt;
    if (answered === total) finish();
  };

  const open = () =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port, noDelay: true });
      const connection = { socket, due: 0, pending: Buffer.alloc(0) };
      socket.once('connect', () => resolve(connection));
      socket.once('error', reject);
      socket.on('data', (chunk) => {
        connection.pending =
          connection.pending.length === 0 ? chunk : Buffer.concat([connection.pending, chunk]);
        const end = connection.pending.indexOf(HEADER_END);
        if (end < 0) return;
        const length = contentLength(connection.pending, end);
        if (connection.pending.length < end + 4 + length) return;
        const status = Number(connection.pending.toString('latin1', 9, 12));
        const answer = connection.pending.subarray(end + 4, end + 4 + length);
        connection.pending = connection.pending.subarray(end + 4 + length);
        record(connection.due, options.accept(status, answer));
        // Requests that fell due while this process was busy leave now, not at the next tick.
        release();
        send(connection);
      });
    });

  /** Gives the connection the oldest waiting request, or parks it. */
  const send = (connection) => {
    if (sent === due) {
      idle.push(connection);
      return;
    }
    connection.due = dueTime(sent);
    sendLags[sent++] = performance.now() - connection.due;
    connection.socket.write(request);
  };

  /** Counts the requests due by now and hands them to idle connections. */
  const release = () => {
    const now = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; due < now; due++) {
      const connection = idle.pop();
      if (connection) send(connection);
    }
  };

  const pool = await Promise.all(Array.from({ length: options.connections }, open));
  idle.push(...pool);
  start = performance.now();
  const cpuBefore = process.cpuUsage();
  let lastTick = start;
  const tick = () => {
    const now = performance.now();
    maxTickGap = Math.max(maxTickGap, now - lastTick);
    lastTick = now;
    release();
    if (due < total) setTimeout(tick, 1);
  };
  tick();
  await finished;
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (const { socket } of pool) socket.destroy();
  latencies.sort();
  sendLags.sort();
  return {
    perSecond: total / elapsed,
    p99: percentile(latencies, 0.99),
    errors,
    sent: total,
    // Reported beside, never subtracted: a late send is queueing too, whoever caused it.
    client: {
      sendLagP99: percentile(sendLags, 0.99),
      maxTickGap,
      // This whole process: the benchmark itself is idle while the client runs.
      cpuMicroseconds: (cpu.user + cpu.system) / total,
    },
  };
}
