import pino, { type Logger } from "pino";

export type { Logger };

// Secrets must never reach a log line; these paths are censored even if a
// careless call logs a whole request.
const redact = [
  "refreshToken",
  "accessToken",
  "refresh_token",
  "access_token",
  "*.refreshToken",
  "*.accessToken",
  "*.refresh_token",
  "*.access_token",
  "authorization",
  "*.authorization",
  "privateJwk",
  "*.privateJwk",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { service: "session-authority" }, redact: { paths: redact, censor: "[redacted]" } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
