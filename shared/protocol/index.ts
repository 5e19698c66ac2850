export * from './version.js';
export * from './envelope.js';
export * from './codes.js';
export * from './messages.js';
export * from './decode.js';
export * from './encode.js';
export * from './agent-auth.js';
