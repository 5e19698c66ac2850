import { Type } from 'typebox';

/** Schema of policy.json (policy-file.ts). Only scripts/gen-validators.ts and tests load it. */
export const PolicyFileSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    rules: Type.String({ maxLength: 128 * 1024 }),
  },
  { additionalProperties: false },
);
