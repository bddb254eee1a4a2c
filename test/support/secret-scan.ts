// Every secret the tests see (tokens in responses, API keys they present,
// KEKs they write) and every log line the services write (in-process and in
// child processes), so each test file can prove no secret reached a log.

const secrets = new Set<string>();
const lines: string[] = [];

const SECRET_FIELDS = new Set(["access_token", "refresh_token"]);

/** Remembers a secret; short strings are ignored (they would match by chance). */
export function rememberSecret(value: string): void {
  if (value.length >= 16) secrets.add(value);
}

/** Remembers every access and refresh token found anywhere in a response. */
export function rememberTokensIn(value: unknown): void {
  if (value === null || typeof value !== "object") return;
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_FIELDS.has(key) && typeof inner === "string") rememberSecret(inner);
    else rememberTokensIn(inner);
  }
}

// Only under vitest: the bench also starts servers through these helpers and
// has no use for a copy of every log line.
const recording = process.env["VITEST"] !== undefined;

export function recordLogLine(line: string): void {
  if (recording) lines.push(line);
}

/** The secrets `text` contains, shortened so the report does not leak them again. */
export function secretsIn(text: string): string[] {
  return [...secrets].filter((secret) => text.includes(secret)).map((secret) => `${secret.slice(0, 8)}…`);
}

/** Every recorded log line that contains a secret, with which. */
export function leakedSecrets(): string[] {
  return lines.flatMap((line) => secretsIn(line).map((secret) => `${secret} in: ${line.slice(0, 200)}`));
}
