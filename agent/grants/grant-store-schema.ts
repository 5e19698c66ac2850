import { Type } from 'typebox';

/**
 * Schema of one grant row as grant-store.ts reads it back from SQLite. Only
 * scripts/gen-validators.ts and tests load this module.
 */
const Hex4 = Type.String({ pattern: '^[0-9a-f]{4}$' });
const Nullable = (s: ReturnType<typeof Type.String>) => Type.Union([Type.Null(), s]);
export const GrantRow = Type.Object(
  {
    grantId: Type.String({ minLength: 1, maxLength: 64 }),
    requestId: Type.String({ minLength: 1, maxLength: 64 }),
    source: Type.Union([Type.Literal('collector'), Type.Literal('offline')]),
    device: Type.Object(
      {
        vendor_id: Hex4,
        product_id: Hex4,
        serial: Nullable(Type.String({ maxLength: 512 })),
        hash: Nullable(Type.String({ maxLength: 64 })),
        port: Nullable(Type.String({ maxLength: 32 })),
      },
      { additionalProperties: false },
    ),
    anyPort: Type.Boolean(),
    allowReinsert: Type.Boolean(),
    executor: Type.String({ maxLength: 64 }),
    expiresAtWall: Type.Number(),
    deadlineMono: Type.Number(),
    bootId: Nullable(Type.String({ maxLength: 64 })),
    warnBeforeMs: Type.Integer({ minimum: 0 }),
    warned: Type.Boolean(),
    receivedAtWall: Type.Number(),
  },
  { additionalProperties: false },
);
