// Reads V8 CPU profiles (from BENCH_PROFILE) and prints where the samples
// fell: by package or source folder, then the functions with the most self time.
//
//   npx tsx bench/profile-summary.ts profiles/*.cpuprofile
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

const TOP = 25;

/** node_modules/<package> or src/<folder>, else what V8 calls it ("(garbage collector)", "(program)"…). */
function placeOf(url: string, functionName: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1] ?? url;
  const own = /\/(?:dist\/)?((?:src|clients\/ts\/src)\/[^/]+)/.exec(url);
  if (own !== null) return own[1] ?? url;
  if (url.startsWith("node:")) return url;
  return url === "" ? functionName : url;
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[] };
  // Shares of the time the process was busy: idle time says only how long it waited for load.
  const busy = profile.nodes.filter((node) => node.callFrame.functionName !== "(idle)");
  const total = busy.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of busy) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const place = placeOf(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
    const name = `${functionName || "(anonymous)"} ${place}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const percent = (hits: number) => `${((hits / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\n${file}: ${total} busy samples`);
  for (const [place, hits] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${percent(hits)}  ${place}`);
  console.log("  self time by function:");
  for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${percent(hits)}  ${name}`);
}
