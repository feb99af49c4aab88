export * from './core.module.js';
export * from './logger.js';
export * from './bootstrap.js';
export * from './tokens.js';
export * from './direct-route.js';
