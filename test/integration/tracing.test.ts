import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestService, type TestService } from "../support/test-service.js";

interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: { key: string; value: Record<string, unknown> }[];
}

/** A stand-in OTLP/HTTP collector: keeps every span it is sent. */
async function startCollector(): Promise<{ server: Server; url: string; spans: ExportedSpan[]; contentTypes: string[] }> {
  const spans: ExportedSpan[] = [];
  const contentTypes: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      contentTypes.push(String(request.headers["content-type"]));
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[] };
      for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, contentTypes };
}

describe("traces (OTLP, when an endpoint is configured)", () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let t: TestService;

  beforeAll(async () => {
    collector = await startCollector();
    t = await startTestService({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: "sa-under-test" });
  });
  afterAll(async () => {
    await t?.stop();
    collector?.server.close();
  });

  it("sends a server span per RPC, continuing the caller's trace, with its transactions as children", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const metadata = new grpc.Metadata();
    metadata.set("traceparent", `00-${traceId}-${callerSpanId}-01`);
    await t.session("CreateSession", { user_id: "traced" }, metadata);
    await t.session("GetSession", { session_id: "not-a-uuid" }).catch(() => undefined);

    // Spans are sent in batches; stopping the service flushes them.
    await t.stop();
    await vi.waitFor(() => expect(collector.spans.some((span) => span.name === "sessionauthority.v1.SessionService/CreateSession")).toBe(true));
    expect(collector.contentTypes[0]).toContain("application/json");
    const rpc = collector.spans.find((span) => span.name === "sessionauthority.v1.SessionService/CreateSession")!;
    expect(rpc.traceId).toBe(traceId);
    expect(rpc.parentSpanId).toBe(callerSpanId);
    expect(rpc.kind).toBe(2); // SERVER
    expect(rpc.attributes).toContainEqual({ key: "rpc.grpc.status_code", value: { intValue: 0 } });
    const transactions = collector.spans.filter((span) => span.name === "db.transaction" && span.parentSpanId === rpc.spanId);
    expect(transactions.length).toBeGreaterThan(0);
    expect(transactions.every((span) => span.traceId === traceId)).toBe(true);
    // A call without a traceparent starts its own trace; a failed one says how it ended.
    const failed = collector.spans.find((span) => span.name === "sessionauthority.v1.SessionService/GetSession")!;
    expect(failed.traceId).not.toBe(traceId);
    expect(failed.attributes).toContainEqual({ key: "rpc.grpc.status_code", value: { intValue: 3 } });
  });
});
