import type * as grpc from "@grpc/grpc-js";
import { DomainError } from "../domain/errors.js";

// grpc-js answers INTERNAL when a request's bytes do not decode, but bytes a
// client sends are the client's fault. Decoding failures therefore become a
// marker object, and unary() turns the marker into INVALID_ARGUMENT.

const MALFORMED = Symbol("malformed request");

export function isMalformed(request: unknown): boolean {
  return typeof request === "object" && request !== null && MALFORMED in request;
}

export const malformedRequestError = () =>
  new DomainError("INVALID_ARGUMENT", "the request is not a valid protobuf message for this method", { metadata: { field: "request" } });

export function withTolerantDecoding<Definition extends grpc.ServiceDefinition>(definition: Definition): Definition {
  const methods = Object.entries(definition).map(([name, method]) => {
    const decode = method.requestDeserialize;
    const tolerant = (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch {
        return { [MALFORMED]: true };
      }
    };
    return [name, { ...method, requestDeserialize: tolerant }];
  });
  return Object.fromEntries(methods) as Definition;
}
