import { baseConfig, databaseConfig, docOf, type ConfigShape } from '@spincycle/common';
import { config as authServer } from '@spincycle/auth-server/config';
import { config as broker } from '@spincycle/broker/config';
import { config as certService } from '@spincycle/cert-service/config';
import { config as deviceService } from '@spincycle/device-service/config';
import { config as gateway } from '@spincycle/gateway/config';
import { config as hibpService } from '@spincycle/hibp-service/config';
import { config as userService } from '@spincycle/user-service/config';
import { overrideVariable, STACK } from '../stack/services.js';

/**
 * The README's ports and configuration tables, generated from the stack definition and from the
 * same zod schemas that validate each service's environment, so the two cannot drift apart.
 */
export const SERVICE_CONFIGS: Record<string, ConfigShape> = {
  'user-service': userService,
  'device-service': deviceService,
  'cert-service': certService,
  'hibp-service': hibpService,
  'auth-server': authServer,
  gateway,
  broker,
};

const escape = (text: string) => text.replace(/\|/g, '\\|');

function table(shape: ConfigShape, names: string[]): string {
  const rows = names.map((name) => {
    const schema = shape[name];
    const doc = schema ? docOf(schema) : undefined;
    if (!doc)
      throw new Error(`${name} has no documentation: declare it with the env.* helpers of common/config`);
    const fallback = doc.secret
      ? '(secret, no default)'
      : doc.default === undefined
        ? '(unset)'
        : `\`${doc.default}\``;
    return `| \`${name}\` | ${fallback} | ${escape(doc.expected)} | ${escape(doc.description)} |`;
  });
  return ['| Variable | Default | Expected | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function configTables(): string {
  const shared = new Set([...Object.keys(baseConfig), ...Object.keys(databaseConfig)]);
  const parts = [
    '#### Every service',
    '',
    table(baseConfig, Object.keys(baseConfig)),
    '',
    '#### Services with a database (user-service, device-service, cert-service, auth-server)',
    '',
    table(databaseConfig, Object.keys(databaseConfig)),
  ];
  for (const [service, shape] of Object.entries(SERVICE_CONFIGS)) {
    const own = Object.keys(shape).filter((name) => !shared.has(name));
    parts.push('', `#### ${service}`, '', table(shape, own));
  }
  return parts.join('\n');
}

export function portsTable(): string {
  const rows = STACK.flatMap((service) =>
    service.listeners.map(
      (l) =>
        `| ${service.name} | ${l.role} | ${l.scheme}://127.0.0.1:${l.port} | \`${l.variable}\` | \`${overrideVariable(service.name, l.variable)}\` |`,
    ),
  );
  return [
    '| Service | Listener | Default address | Service variable | Override under `npm start` |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

const BLOCKS = { ports: portsTable, config: configTables } as const;

/** Replaces each `<!-- generated:NAME -->` … `<!-- /generated:NAME -->` block of the text. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(BLOCKS)) {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README has no ${start} … ${end} block`);
    out = `${out.slice(0, from + start.length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}
