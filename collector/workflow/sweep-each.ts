/**
 * One pass of a periodic sweep over due cases (expiry, lapse): each case is its own step, and a
 * step that throws goes to `skipped` instead of ending the pass, so a case another collector or
 * a user already moved does not hold up the rest of the batch. Returns how many steps succeeded.
 */
export function sweepEach<R extends { id: string }>(rows: Iterable<R>, step: (row: R) => void, skipped: (err: unknown, id: string) => void): number {
  let done = 0;
  for (const row of rows) {
    try {
      step(row);
      done++;
    } catch (err) {
      skipped(err, row.id);
    }
  }
  return done;
}
