/** Injection token of the parsed configuration (see config.ts). */
export const USER_CONFIG = Symbol('USER_CONFIG');
