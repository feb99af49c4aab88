import { join } from 'node:path';
import type { Provider } from '@nestjs/common';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';
import { CertificatesRepository } from './certificates.repository.js';
import { LocalCa } from './local-ca.js';
import { PKI_BACKEND, type PkiBackend } from './pki-backend.js';
import { VaultPki } from './vault-pki.js';

export function createPkiBackend(
  config: CertServiceConfig,
  certificates: CertificatesRepository,
): Promise<PkiBackend> {
  if (config.PKI_BACKEND === 'local') {
    return LocalCa.open({
      dir: join(config.DATA_DIR, 'cert-service', 'ca'),
      encryptionKey: config.CA_KEY_ENCRYPTION_KEY,
      revokedSerials: () => certificates.revokedSerials(),
    });
  }
  const endpoint = config.VAULT_ADDR;
  if (endpoint === undefined) throw new Error('VAULT_ADDR is required when PKI_BACKEND=vault');
  if (config.VAULT_AUTH === 'token') {
    if (config.VAULT_TOKEN === undefined) throw new Error('VAULT_TOKEN is required when VAULT_AUTH=token');
    return VaultPki.connect({
      endpoint,
      mount: config.VAULT_PKI_MOUNT,
      role: config.VAULT_PKI_ROLE,
      auth: { method: 'token', token: config.VAULT_TOKEN },
    });
  }
  if (config.VAULT_KUBERNETES_ROLE === undefined) {
    throw new Error('VAULT_KUBERNETES_ROLE is required when VAULT_AUTH=kubernetes');
  }
  return VaultPki.connect({
    endpoint,
    mount: config.VAULT_PKI_MOUNT,
    role: config.VAULT_PKI_ROLE,
    auth: {
      method: 'kubernetes',
      role: config.VAULT_KUBERNETES_ROLE,
      mount: config.VAULT_KUBERNETES_MOUNT,
      jwtPath: config.VAULT_KUBERNETES_JWT_PATH,
    },
  });
}

export const pkiBackendProvider: Provider = {
  provide: PKI_BACKEND,
  inject: [CERT_CONFIG, CertificatesRepository],
  useFactory: createPkiBackend,
};
