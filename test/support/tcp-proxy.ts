import net from "node:net";

export type ProxyMode = "forward" | "blackhole";

/**
 * A loopback TCP proxy a test can cut: "blackhole" ends every open
 * connection and then holds new ones open without a byte either way, as a
 * dead network path or a hung load balancer does (nothing errors quickly,
 * so a client cannot tell "down" from "quiet" by failures alone).
 */
export interface TcpProxy {
  readonly port: number;
  mode: ProxyMode;
  cut(): void;
  restore(): void;
  /** Forward new connections to another port (a restarted server), dropping the open ones. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let mode: ProxyMode = "forward";
  let target = targetPort;
  const server = net.createServer((inbound) => {
    sockets.add(inbound);
    inbound.on("close", () => sockets.delete(inbound));
    inbound.on("error", () => inbound.destroy());
    if (mode === "blackhole") return;
    const outbound = net.connect(target, "127.0.0.1");
    sockets.add(outbound);
    outbound.on("close", () => {
      sockets.delete(outbound);
      inbound.destroy();
    });
    outbound.on("error", () => outbound.destroy());
    inbound.on("close", () => outbound.destroy());
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port: address.port,
    get mode() {
      return mode;
    },
    set mode(next: ProxyMode) {
      mode = next;
    },
    cut() {
      mode = "blackhole";
      dropAll();
    },
    restore() {
      mode = "forward";
      // Held connections carry nothing; dropping them makes the client dial again.
      dropAll();
    },
    retarget(port: number) {
      target = port;
      dropAll();
    },
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
