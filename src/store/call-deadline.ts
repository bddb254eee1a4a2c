import { AsyncLocalStorage } from "node:async_hooks";

// The caller's deadline, carried from the gRPC handler to the transaction
// that does the work, so the database stops when the caller stops waiting
// (a rotation the caller never hears of must not commit later).
const deadlines = new AsyncLocalStorage<number>();

/** Runs `work` with the call's deadline (epoch ms; Infinity for none) in reach of every transaction it starts. */
export function withCallDeadline<T>(deadlineMs: number, work: () => T): T {
  return deadlines.run(deadlineMs, work);
}

/** Milliseconds left before the current call's deadline; Infinity outside a call or without one. */
export function remainingMs(): number {
  const deadline = deadlines.getStore();
  return deadline === undefined ? Infinity : deadline - Date.now();
}
