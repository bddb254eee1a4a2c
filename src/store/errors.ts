/** The database could not be reached or gave up under load: worth a retry. */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
}

/** The caller's deadline passed before the work committed: it was rolled back, nothing of it remains. */
export class DeadlineExceededError extends Error {
  override readonly name = "DeadlineExceededError";
}
