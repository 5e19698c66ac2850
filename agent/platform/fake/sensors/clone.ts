/** Test state is copied in and out so callers cannot mutate it behind the fake's back. */
export const clone = <T>(v: T): T => structuredClone(v);
