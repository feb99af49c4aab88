import { describe, expect, it } from 'vitest';
import { grantableScopes, mayAssignRoles, type Role } from './roles.js';

describe('mayAssignRoles', () => {
  it.each<[string, Role[], string, boolean]>([
    ['an admin, for another user', ['admin'], 'other', true],
    ['an admin who is also a homeowner', ['homeowner', 'admin'], 'other', true],
    ['an admin, for themselves', ['admin'], 'self', false],
    ['a technician', ['technician'], 'other', false],
    ['a homeowner', ['homeowner'], 'other', false],
    ['a homeowner, for themselves', ['homeowner'], 'self', false],
    ['someone without roles', [], 'other', false],
  ])('%s → %s', (_label, roles, target, expected) => {
    expect(mayAssignRoles({ id: 'self', roles }, target)).toBe(expected);
  });
});

describe('grantableScopes', () => {
  const requested = ['openid', 'offline_access', 'device.read', 'admin.provision', 'admin.users'];
  it.each<[string, Role[], string[]]>([
    ['a homeowner', ['homeowner'], ['openid', 'offline_access', 'device.read']],
    ['a technician', ['technician'], ['openid', 'offline_access', 'device.read']],
    ['someone without roles', [], ['openid', 'offline_access', 'device.read']],
    ['an admin', ['admin'], requested],
    ['an admin who is also a homeowner', ['homeowner', 'admin'], requested],
  ])('%s', (_label, roles, expected) => {
    expect(grantableScopes(requested, roles)).toEqual(expected);
  });
});
