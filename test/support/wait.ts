export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `probe` until it holds; returns how long that took, in ms. Throws after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(5);
  }
  return performance.now() - started;
}
