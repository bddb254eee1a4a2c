import { createServer } from "node:net";

/**
 * A loopback port free a moment ago, for a server whose own URL must be in
 * its configuration before it starts (an issuer that is its discovery URL).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
