import { join } from 'node:path';
import { loadServerIdentity as load, type Logger, type ServerIdentity } from '@spincycle/common';

export { selfSigned, type ServerIdentity } from '@spincycle/common';

/** The broker's server certificate: the operator's files, or one made for development under DATA_DIR. */
export function loadServerIdentity(options: {
  certFile: string | undefined;
  keyFile: string | undefined;
  dataDir: string;
  logger: Logger;
}): Promise<ServerIdentity> {
  return load({
    certFile: options.certFile,
    keyFile: options.keyFile,
    dir: join(options.dataDir, 'broker', 'tls'),
    commonName: 'spincycle-broker',
    logger: options.logger,
  });
}
