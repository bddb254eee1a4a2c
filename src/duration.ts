// Durations in configuration are written the way operators think of them
// ("10m", "14d", "500ms"); a bare number means seconds.
const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = units[match[2] ?? "s"];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}
