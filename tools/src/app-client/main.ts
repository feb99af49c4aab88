import { APP_CLIENT, registerAppClient } from './app-client.js';

/**
 * `npm run oauth2:register-app -- <admin URL>`: registers the mobile app's OAuth2 client at Ory
 * Hydra's admin API (or auth-server's), creating it or bringing it up to date. `npm start` does
 * the same by itself.
 */
const adminUrl = process.argv[2] ?? process.env.HYDRA_ADMIN_URL;
if (!adminUrl || adminUrl === '--help' || adminUrl === '-h') {
  process.stderr.write(
    'usage: npm run oauth2:register-app -- <OAuth2 admin URL, e.g. http://hydra-admin:4445>\n' +
      '       (the URL may also come from HYDRA_ADMIN_URL)\n',
  );
  process.exit(adminUrl ? 0 : 2);
}
try {
  const outcome = await registerAppClient(adminUrl);
  process.stdout.write(`${APP_CLIENT.client_id}: ${outcome}\n`);
} catch (err) {
  process.stderr.write(`oauth2:register-app: ${(err as Error).message}\n`);
  process.exit(1);
}
