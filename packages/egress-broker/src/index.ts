export { EgressSession, type EgressSessionParams } from './session.js';
export { EgressListenError, EgressSessionParamsError } from './errors.js';
export { NONE_MODE_CAPS } from './caps.js';
export type { EgressResolver } from './resolve.js';
export type { ConnectionHeader } from './header.js';
export { MAX_HEADER_BYTES } from './header.js';
