/**
 * The floor under any HTTP service on this machine: a bare TCP server that answers every read with
 * the bytes of a warm `ok`, without parsing anything. With one request in flight per connection
 * each read is one request. Measured by the same client at the same rate as cert-service, it shows
 * what the machine and the client leave for the service.
 *
 * Usage: node fixed-answer-server.mjs PORT (prints "ready" once listening)
 */
import { createServer } from 'node:net';

const body = '{"result":"ok"}';
const answer = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
);
createServer({ noDelay: true }, (socket) => {
  socket.on('data', () => socket.write(answer));
  socket.on('error', () => socket.destroy());
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
