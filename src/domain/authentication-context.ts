import { invalidArgument } from "./errors.js";
import { optionalText } from "./validation.js";

export interface AuthenticationInput {
  readonly amr: readonly string[];
  readonly acr: string;
  readonly authTime: Date | undefined;
}

export interface AuthenticationContext {
  readonly amr: readonly string[];
  readonly acr: string | null;
  readonly authTime: Date;
}

const CLOCK_SKEW_MS = 60_000;

export function validateAuthentication(input: AuthenticationInput, now: Date): AuthenticationContext {
  if (input.amr.length > 16) throw invalidArgument("authentication.amr", "at most 16 methods");
  for (const method of input.amr) {
    if (!/^[A-Za-z0-9_.:-]{1,32}$/.test(method)) {
      throw invalidArgument("authentication.amr", "methods must be 1-32 letters, digits or _ . : -");
    }
  }
  const authTime = input.authTime ?? now;
  if (authTime.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw invalidArgument("authentication.auth_time", "must not be in the future");
  }
  return { amr: [...new Set(input.amr)], acr: optionalText("authentication.acr", input.acr, 256), authTime };
}
