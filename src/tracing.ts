import { context, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Config } from "./config.js";

// Off unless an OTLP endpoint is configured, and then without a global
// provider or context manager: the span context travels with each call
// explicitly (as the deadline does, see Store.forCall), because
// AsyncLocalStorage's promise hooks would tax every await of the process.

export interface Tracing {
  readonly tracer: Tracer;
  /** Sends what is buffered, then stops. */
  shutdown(): Promise<void>;
}

export function startTracing(settings: NonNullable<Config["tracing"]>): Tracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": settings.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.url, headers: { ...settings.headers } }) })],
  });
  return { tracer: provider.getTracer("session-authority"), shutdown: () => provider.shutdown() };
}

const w3c = new W3CTraceContextPropagator();
type Carrier = Record<string, string>;
const carrierGetter = {
  keys: (carrier: Carrier) => Object.keys(carrier),
  get: (carrier: Carrier, key: string) => carrier[key],
};

/** The caller's trace context from its `traceparent` / `tracestate` headers. */
export function extractTraceContext(headers: Carrier): Context {
  return w3c.extract(context.active(), headers, carrierGetter);
}

/** A span's context as a `traceparent` value, to hand to work done on its behalf. */
export function traceparentOf(span: Span): string {
  const carrier: Carrier = {};
  w3c.inject(trace.setSpan(context.active(), span), carrier, { set: (target, key, value) => (target[key] = value) });
  return carrier["traceparent"] ?? "";
}

/** The context whose parent is the span named by a `traceparent` value. */
export function contextOf(traceparent: string): Context {
  return extractTraceContext({ traceparent });
}

