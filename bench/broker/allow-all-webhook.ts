// A decision maker that allows everything at once, so that the broker benchmark measures the
// broker and its webhook round trips, not cert-service's decisions (bench/cert-service measures
// those). Serves the device CA and an empty CRL the way cert-service does.
//   node bench/broker/allow-all-webhook.ts <port> <ca.pem> <crl.pem>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, caFile, crlFile] = process.argv.slice(2);
const ca = readFileSync(caFile!, 'utf8');
const crl = readFileSync(crlFile!, 'utf8');
const ok = JSON.stringify({ result: 'ok' });

createServer((req, res) => {
  if (req.url === '/ca') return res.end(ca);
  if (req.url === '/crl.pem') return res.end(crl);
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(ok));
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
