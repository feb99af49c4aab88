// The two load generators ingest.ts can run, behind one shape: load-generator.ts in a forked Node
// process, or load-generator.c (built here where a C compiler and OpenSSL's headers are) speaking
// the same messages as lines on its standard input and output.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EnrolledDevice } from './enrol.ts';
import type { GeneratorMessage } from './load-generator.ts';
import { buildC } from '../support/native.ts';

export interface GeneratorOptions {
  /** devices.json, as enrolDevices() answers, and the share of it this generator runs. */
  devicesFile: string;
  devices: readonly EnrolledDevice[];
  from: number;
  to: number;
  host: string;
  port: number;
  caFile: string;
  events: number;
  inflight: number;
  execArgv: string[];
}

/** The part of a load generator's process ingest.ts uses; a forked ChildProcess has this shape. */
export interface Generator {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly connected: boolean;
  send(message: { go: true } | { stop: true }): void;
  on(event: 'message', listener: (message: GeneratorMessage) => void): this;
  once(event: 'exit', listener: (code: number | null) => void): this;
}

export type GeneratorKind = 'native' | 'node';

/** Starts one generator of the kind asked for; 'native' falls back to 'node' where it cannot be built. */
export async function startGenerator(
  kind: GeneratorKind,
  options: GeneratorOptions,
): Promise<{ kind: GeneratorKind; generator: Generator }> {
  const binary =
    kind === 'native'
      ? await buildC(fileURLToPath(new URL('load-generator.c', import.meta.url)), ['-lssl', '-lcrypto'])
      : undefined;
  if (binary) return { kind: 'native', generator: new NativeGenerator(binary, options) };
  return {
    kind: 'node',
    generator: fork(
      'bench/device-service/load-generator.ts',
      [
        ...['--devices', options.devicesFile, '--from', String(options.from), '--to', String(options.to)],
        ...['--broker', `mqtts://${options.host}:${options.port}`, '--ca', options.caFile],
        ...['--events', String(options.events), '--inflight', String(options.inflight)],
      ],
      { execArgv: options.execArgv },
    ),
  };
}

/** load-generator.c, its lines read as the Node generator's messages. */
class NativeGenerator extends EventEmitter implements Generator {
  private readonly child: ChildProcess;

  constructor(binary: string, options: GeneratorOptions) {
    super();
    const manifest = `${options.devicesFile}.${options.from}.manifest`;
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    writeFileSync(
      manifest,
      options.devices
        .slice(options.from, options.to)
        .map((d) => `${d.id} ${d.mqttPassword} ${base64(d.cert)} ${base64(d.key)}\n`)
        .join(''),
      { mode: 0o600 },
    );
    this.child = spawn(
      binary,
      [
        manifest,
        options.host,
        String(options.port),
        options.caFile,
        String(options.events),
        String(options.inflight),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    this.child.stdin?.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const message = parseLine(line);
      if (message) this.emit('message', message);
      else process.stderr.write(`load-generator: ${line}\n`);
    });
    this.child.once('exit', (code) => this.emit('exit', code));
  }

  get pid() {
    return this.child.pid;
  }

  get exitCode() {
    return this.child.exitCode;
  }

  get connected() {
    return this.child.exitCode === null && this.child.stdin?.writable === true;
  }

  send(message: { go: true } | { stop: true }): void {
    this.child.stdin?.write('go' in message ? 'go\n' : 'stop\n');
  }
}

function parseLine(line: string): GeneratorMessage | undefined {
  const [word, first, second] = line.split(' ');
  if (word === 'connected') return { connected: Number(first) };
  if (word === 'ready') return { ready: true };
  if (word === 'acked') return { acked: Number(first) };
  if (word === 'done') return { done: true, acked: Number(first), seconds: Number(second) };
  return undefined;
}
