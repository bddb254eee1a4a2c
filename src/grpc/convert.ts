import type { Duration__Output } from "../generated/proto/types/google/protobuf/Duration.js";
import type { ListValue__Output } from "../generated/proto/types/google/protobuf/ListValue.js";
import type { Struct, Struct__Output } from "../generated/proto/types/google/protobuf/Struct.js";
import type { Timestamp, Timestamp__Output } from "../generated/proto/types/google/protobuf/Timestamp.js";
import type { Value, Value__Output } from "../generated/proto/types/google/protobuf/Value.js";
import { invalidArgument } from "../domain/errors.js";

// Well-known types as proto-loader hands them over, to and from plain JS.
// An unset message field arrives as undefined (whatever the generated types
// say), so every reader accepts null and undefined alike.

const MAX_TIMESTAMP_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z, the proto limit

export function fromTimestamp(field: string, value: Timestamp__Output | null | undefined): Date | undefined {
  if (value == null) return undefined;
  const seconds = Number(value.seconds);
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_TIMESTAMP_SECONDS || value.nanos < 0 || value.nanos > 999_999_999) {
    throw invalidArgument(field, "is not a valid timestamp");
  }
  return new Date(seconds * 1000 + Math.floor(value.nanos / 1_000_000));
}

export function toTimestamp(date: Date): Timestamp;
export function toTimestamp(date: Date | null): Timestamp | null;
export function toTimestamp(date: Date | null): Timestamp | null {
  if (date === null) return null;
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Milliseconds, or undefined when the caller left the field unset. */
export function fromDuration(field: string, value: Duration__Output | null | undefined): number | undefined {
  if (value == null) return undefined;
  const seconds = Number(value.seconds);
  if (!Number.isSafeInteger(seconds) || Math.abs(value.nanos) > 999_999_999) throw invalidArgument(field, "is not a valid duration");
  return seconds * 1000 + Math.trunc(value.nanos / 1_000_000);
}

export function toDuration(ms: number) {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

const MAX_DEPTH = 8;

export function fromStruct(field: string, value: Struct__Output | null | undefined): Record<string, unknown> {
  if (value == null) return {};
  return structToObject(field, value, 0);
}

function structToObject(field: string, struct: Struct__Output, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw invalidArgument(field, `nests deeper than ${MAX_DEPTH} levels`);
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) result[key] = valueToJs(field, value, depth + 1);
  return result;
}

function valueToJs(field: string, value: Value__Output, depth: number): unknown {
  switch (value.kind) {
    case "stringValue":
      return value.stringValue;
    case "numberValue":
      if (!Number.isFinite(value.numberValue)) throw invalidArgument(field, "numbers must be finite");
      return value.numberValue;
    case "boolValue":
      return value.boolValue;
    case "structValue":
      return value.structValue ? structToObject(field, value.structValue, depth) : {};
    case "listValue":
      return listToArray(field, value.listValue, depth);
    default:
      return null;
  }
}

function listToArray(field: string, list: ListValue__Output | null | undefined, depth: number): unknown[] {
  if (depth > MAX_DEPTH) throw invalidArgument(field, `nests deeper than ${MAX_DEPTH} levels`);
  return (list?.values ?? []).map((item) => valueToJs(field, item, depth + 1));
}

export function toStruct(object: Readonly<Record<string, unknown>>): Struct {
  return { fields: Object.fromEntries(Object.entries(object).map(([key, value]) => [key, jsToValue(value)])) };
}

function jsToValue(value: unknown): Value {
  if (value === null || value === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsToValue) } };
  if (typeof value === "object") return { structValue: toStruct(value as Record<string, unknown>) };
  return { stringValue: String(value) };
}
