import { describe, expect, it } from 'vitest';
import { mayAssignRoles, type Role } from './roles.js';

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
