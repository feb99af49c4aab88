import { describe, expect, it } from 'vitest';
import { publicRouteOf, withHydraOfflineAccess } from './public.js';

describe('withHydraOfflineAccess', () => {
  it.each([
    ['adds consent when offline_access is asked', '/oauth2/auth?scope=openid+offline_access', 'consent'],
    ['keeps other prompts', '/oauth2/auth?scope=offline_access&prompt=login', 'login consent'],
    ['leaves an explicit consent alone', '/oauth2/auth?scope=offline_access&prompt=consent', 'consent'],
    [
      'never turns prompt=none into an interactive request',
      '/oauth2/auth?scope=offline_access&prompt=none',
      'none',
    ],
    ['does nothing without offline_access', '/oauth2/auth?scope=openid', null],
    ['does nothing for scopes that merely contain the word', '/oauth2/auth?scope=offline_accessible', null],
    ['does nothing on other paths', '/oauth2/token?scope=offline_access', null],
  ])('%s', (_label, url, prompt) => {
    const rewritten = new URL(withHydraOfflineAccess(url), 'http://x');
    expect(rewritten.searchParams.get('prompt')).toBe(prompt);
    expect(rewritten.searchParams.get('scope')).toBe(new URL(url, 'http://x').searchParams.get('scope'));
  });
});

describe('publicRouteOf', () => {
  it.each([
    ['/oauth2/auth', '/oauth2/auth'],
    ['/oauth2/auth/abc-DEF_123', '/oauth2/auth/:uid'],
    ['/oauth2/auth/a/b', 'unmatched'],
    ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
    ['/oauth2/sessions/logout/confirm', '/oauth2/sessions/logout/confirm'],
    ['/admin/clients', 'unmatched'],
  ])('%s → %s', (path, route) => {
    expect(publicRouteOf(path)).toBe(route);
  });
});
