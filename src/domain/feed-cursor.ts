import type { FeedCursor } from "../store/event-repository.js";
import { invalidArgument } from "./errors.js";

// Cursors travel as "<txid>.<id>": opaque to clients, stable across replicas.

const MAX = 2n ** 63n - 1n;

export function formatCursor(cursor: FeedCursor): string {
  return `${cursor.txid}.${cursor.id}`;
}

export function parseCursor(text: string): FeedCursor {
  const match = /^(\d{1,19})\.(\d{1,19})$/.exec(text);
  const txid = match === null ? undefined : BigInt(match[1] ?? "");
  const id = match === null ? undefined : BigInt(match[2] ?? "");
  if (txid === undefined || id === undefined || txid > MAX || id > MAX) {
    throw invalidArgument("cursor", "is not a cursor this server handed out (pass back an event's or heartbeat's cursor, or leave it empty)");
  }
  return { txid, id };
}
