import type { FeedCursor } from "../store/event-repository.js";
import { invalidArgument } from "./errors.js";

// Cursors travel as "<txid>.<id>": opaque to clients, stable across replicas.
// After a restore fence they carry the feed's epoch too, "<epoch>:<txid>.<id>",
// so a cursor from before the restore is recognised (epoch 0 keeps the short form).

const MAX = 2n ** 63n - 1n;

export function formatCursor(cursor: FeedCursor, epoch: number): string {
  return epoch === 0 ? `${cursor.txid}.${cursor.id}` : `${epoch}:${cursor.txid}.${cursor.id}`;
}

export function parseCursor(text: string): FeedCursor & { readonly epoch: number } {
  const match = /^(?:(\d{1,10}):)?(\d{1,19})\.(\d{1,19})$/.exec(text);
  const txid = match === null ? undefined : BigInt(match[2] ?? "");
  const id = match === null ? undefined : BigInt(match[3] ?? "");
  if (match === null || txid === undefined || id === undefined || txid > MAX || id > MAX) {
    throw invalidArgument("cursor", "is not a cursor this server handed out (pass back an event's or heartbeat's cursor, or leave it empty)");
  }
  return { epoch: Number(match[1] ?? "0"), txid, id };
}
