import * as grpc from "@grpc/grpc-js";
import { Counter, Histogram, type Registry } from "prom-client";

/** Per-RPC counts by status code and latency histograms for /metrics. */
export function callMetricsInterceptor(registry: Registry): grpc.ServerInterceptor {
  const calls = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by method and status code.",
    labelNames: ["grpc_method", "grpc_code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from receiving an RPC to sending its status.",
    labelNames: ["grpc_method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return (methodDescriptor, call) => {
    const stop = latency.startTimer({ grpc_method: methodDescriptor.path });
    const responder = new grpc.ResponderBuilder()
      .withSendStatus((status, next) => {
        stop();
        calls.inc({ grpc_method: methodDescriptor.path, grpc_code: grpc.status[status.code] ?? String(status.code) });
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
