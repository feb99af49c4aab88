/** Injection tokens for what the core module provides. Classes are used where one exists. */
export const LOGGER = Symbol('LOGGER');
export const SERVICE_CONTEXT = Symbol('SERVICE_CONTEXT');
