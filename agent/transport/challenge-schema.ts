import { Type } from 'typebox';

/**
 * Schema of the collector's answer to GET challenge (collector-client.ts). Only
 * scripts/gen-validators.ts and tests load this module.
 */
export const Challenge = Type.Object({ nonce: Type.String({ minLength: 1, maxLength: 512 }) });
