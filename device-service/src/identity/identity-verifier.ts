// One implementation for every service that accepts callers from the access proxy.
export { IdentityRejected, IdentityVerifier, type IdentityVerifierOptions } from '@spincycle/common';
