import { AGENT_LOCAL_CHECKS } from '../shared/protocol/validators.gen.js';
import type { SchemaCheck } from '../shared/schema-check.js';

/**
 * The agent's schema checks, from the validators generated out of the TypeBox schemas
 * (scripts/gen-validators.ts): the agent never loads TypeBox itself (docs/benchmarks.md, "Agent
 * footprint"). The price is the error text: a generated check only says no, so `errors` names the
 * schema, not the failing field.
 *
 * `T` must be the Static type of the schema registered under `name`; the registration and the
 * differential test (test/unit/agent/protocol-validators.test.ts) keep the two together.
 */
export function generatedCheck<T>(name: string, what: string): SchemaCheck<T> {
  // A name with no generated validator throws on use, never accepts. It does not throw here, at
  // module load, because scripts/gen-validators.ts loads the schema modules, whose imports reach
  // these modules before the new validator exists. test/unit/agent/generated-checks.test.ts
  // checks that every name used in agent/ is generated.
  const fn =
    AGENT_LOCAL_CHECKS.get(name) ??
    (() => {
      throw new Error(`no generated validator ${name}: run npm run gen:validators`);
    });
  return {
    check: (input): input is T => fn(input),
    errors: () => [`/ does not match the ${what} schema`],
  };
}
