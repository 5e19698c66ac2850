/**
 * A schema check as the code that uses it sees it, whichever engine made it: the collector wraps
 * TypeBox's compiled validators (which name the failing field), the agent wraps the generated ones
 * in shared/protocol/validators.gen.ts (which only say no) so it never loads TypeBox at run time.
 * Modules that must run in both take one of these instead of calling `Compile` themselves.
 */
export interface SchemaCheck<T> {
  check(input: unknown): input is T;
  /** Why `input` fails, one line per problem; only called after `check` said no. */
  errors(input: unknown): string[];
}
