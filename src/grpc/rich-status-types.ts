import protobuf from "protobufjs";

// google.rpc.Status and ErrorInfo as protobufjs types, declared with the
// field numbers of third_party/google/rpc/*.proto. Declared here because
// protobufjs cannot rebuild map fields from a descriptor set.

const root = new protobuf.Root();

root
  .define("google.protobuf")
  .add(new protobuf.Type("Any").add(new protobuf.Field("type_url", 1, "string")).add(new protobuf.Field("value", 2, "bytes")));

export const StatusMessage = new protobuf.Type("Status")
  .add(new protobuf.Field("code", 1, "int32"))
  .add(new protobuf.Field("message", 2, "string"))
  .add(new protobuf.Field("details", 3, "google.protobuf.Any", "repeated"));

export const ErrorInfoMessage = new protobuf.Type("ErrorInfo")
  .add(new protobuf.Field("reason", 1, "string"))
  .add(new protobuf.Field("domain", 2, "string"))
  .add(new protobuf.MapField("metadata", 3, "string", "string"));

root
  .define("google.protobuf")
  .add(new protobuf.Type("Duration").add(new protobuf.Field("seconds", 1, "int64")).add(new protobuf.Field("nanos", 2, "int32")));

export const RetryInfoMessage = new protobuf.Type("RetryInfo").add(new protobuf.Field("retry_delay", 1, "google.protobuf.Duration"));

root.define("google.rpc").add(StatusMessage).add(ErrorInfoMessage).add(RetryInfoMessage);
root.resolveAll();
