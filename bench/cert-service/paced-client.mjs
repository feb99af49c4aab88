/**
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

/**
 * @param {{ host: string, port: number, path: string, headers: Record<string, string>, body: string,
 *   rate: number, seconds: number, connections: number, accept: (status: number, body: Buffer) => boolean }} options
 * @returns {Promise<{ perSecond: number, p99: number, errors: number, sent: number }>}
 */
export async function pacedLoad(options) {
  const { rate, seconds } = options;
  const total = Math.round(rate * seconds);
  const body = Buffer.from(options.body);
  const head = [
    `POST ${options.path} HTTP/1.1`,
    `host: ${options.host}:${options.port}`,
    'connection: keep-alive',
    `content-length: ${body.length}`,
    ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
  ].join('\r\n');
  const request = Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);

  const latencies = new Float64Array(total);
  let answered = 0;
  let errors = 0;
  let started = 0;
  /** Due times of requests waiting for a free connection, oldest first. */
  const waiting = [];
  const idle = [];
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));

  const record = (due, ok) => {
    if (!ok) errors++;
    latencies[answered++] = performance.now() - due;
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
        const header = connection.pending.toString('latin1', 0, end);
        const length = Number(CONTENT_LENGTH.exec(header)?.[1] ?? 0);
        if (connection.pending.length < end + 4 + length) return;
        const status = Number(header.slice(9, 12));
        const answer = connection.pending.subarray(end + 4, end + 4 + length);
        connection.pending = connection.pending.subarray(end + 4 + length);
        record(connection.due, options.accept(status, answer));
        send(connection);
      });
    });

  /** Gives the connection the oldest waiting request, or parks it. */
  const send = (connection) => {
    const due = waiting.shift();
    if (due === undefined) {
      idle.push(connection);
      return;
    }
    connection.due = due;
    connection.socket.write(request);
  };

  const pool = await Promise.all(Array.from({ length: options.connections }, open));
  idle.push(...pool);
  const start = performance.now();
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    for (; started < due; started++) {
      waiting.push(start + (started * 1000) / rate);
      const connection = idle.pop();
      if (connection) send(connection);
    }
    if (started < total) setTimeout(tick, 1);
  };
  tick();
  await finished;
  const elapsed = (performance.now() - start) / 1000;
  for (const { socket } of pool) socket.destroy();
  latencies.sort();
  return {
    perSecond: total / elapsed,
    p99: latencies[Math.min(total - 1, Math.floor(total * 0.99))],
    errors,
    sent: total,
  };
}
