import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { decodeJwt } from "jose";
import { apiKeyMetadata, failure, type CallFailure } from "./clients.js";
import type { ModelCaller, ModelSystem } from "./model-system.js";
import { MODEL_CALLERS } from "./model-system.js";
import { sleep } from "./wait.js";

// A plain in-memory model of sessions and tokens, and fast-check commands
// that drive the real service and hold every answer to it. The model is the
// spec (ADR 013's table and the revocation rules), written without looking
// at how the server decides.

export interface ModelSettings {
  readonly graceMs: number;
  readonly burstMs: number;
  readonly maxReplays: number;
}

/** The clients a token can be presented from: the owner (under two spellings of one address) and a thief. */
const CLIENTS = [
  { name: "owner", ip: "198.51.100.7" },
  { name: "owner", ip: "::ffff:198.51.100.7" },
  { name: "thief", ip: "203.0.113.66" },
] as const;
const USER_AGENT = "model-app/1";
const ORGS = ["org-a", "org-b", ""] as const;
const USERS = 3;
const KEYS = ["login-1", "login-2"] as const;

type Timing = "now" | "mid" | "late";

interface RefreshTokenM {
  readonly secret: string;
  readonly session: SessionM;
  spent: boolean;
  successor?: RefreshTokenM;
  rotatedBy?: string;
  /** Wall-clock bounds of the rotation's commit: sent at, answered at. */
  rotatedFrom?: number;
  rotatedUntil?: number;
  /** Grace replays counted, as far as the model can know (a replay at the burst's edge may or may not count). */
  replays: { min: number; max: number };
}

interface SessionM {
  readonly id: string;
  readonly user: number;
  readonly caller: ModelCaller;
  readonly key: string | undefined;
  readonly userVersion: number;
  readonly globalVersion: number;
  org: string;
  revoked: boolean;
  deleted: boolean;
  loginToken?: RefreshTokenM;
}

interface AccessTokenM {
  readonly token: string;
  readonly session: SessionM;
  readonly org: string;
}

export interface Model {
  readonly run: string;
  readonly settings: ModelSettings;
  readonly sessions: SessionM[];
  readonly refreshTokens: RefreshTokenM[];
  readonly accessTokens: AccessTokenM[];
  readonly userVersions: number[];
  globalVersion: number;
  readonly seenUsers: Set<number>;
  streamCut: boolean;
}

export function newModel(run: string, settings: ModelSettings): Model {
  return { run, settings, sessions: [], refreshTokens: [], accessTokens: [], userVersions: Array.from({ length: USERS }, () => 0), globalVersion: 0, seenUsers: new Set(), streamCut: false };
}

const userId = (model: Model, user: number) => `${model.run}-user-${user}`;
const stale = (model: Model, session: SessionM) => session.userVersion < (model.userVersions[session.user] ?? 0) || session.globalVersion < model.globalVersion;
const live = (model: Model, session: SessionM) => !session.deleted && !session.revoked && !stale(model, session);
const asCaller = (caller: ModelCaller) => apiKeyMetadata(MODEL_CALLERS[caller]);
const otherCaller = (caller: ModelCaller): ModelCaller => (caller === "app-a" ? "app-b" : "app-a");

/** An operation on a session by id: it, and the caller presenting it (its owner, or the other one). */
function sessionTarget(model: Model, index: number, byOwner: boolean): { session: SessionM; caller: ModelCaller } | undefined {
  const session = pick(model.sessions, index);
  return session === undefined ? undefined : { session, caller: byOwner ? session.caller : otherCaller(session.caller) };
}

/** Another caller's session, or a deleted one, does not exist for the caller: exactly the unknown-id answer. */
function expectUnknownSession(command: object, outcome: Awaited<ReturnType<typeof attempt>>): void {
  expectThat(!outcome.ok && reasonOf(outcome) === "SESSION_NOT_FOUND", () => `${String(command)}: another caller's or a deleted session answered ${JSON.stringify(outcome)}`);
}

/** A negative index counts from the newest. */
const pick = <T>(items: readonly T[], index: number): T | undefined =>
  items.length === 0 ? undefined : items[index < 0 ? Math.max(0, items.length + index) : index % items.length];

/**
 * Reasons a dead access token may be refused with: every way it died (a
 * verifier that has heard of one revocation but not yet of a later one
 * names the one it knows).
 */
function accessRefusals(model: Model, session: SessionM): string[] {
  const reasons: string[] = [];
  if (session.deleted || stale(model, session)) reasons.push("VERSION_STALE");
  if (session.deleted || session.revoked) reasons.push("TOKEN_REVOKED");
  return reasons;
}

/** How long a revocation committed on one replica may take to reach another's verification cache. */
const PROPAGATION_MS = 2_000;
let slowestPropagationMs = 0;

class ModelViolation extends Error {}

/** How many commands of each kind ran, over every run: printed, so a run that skipped everything shows. */
const tallies = new Map<string, number>();
const tally = (name: string) => tallies.set(name, (tallies.get(name) ?? 0) + 1);

function expectThat(condition: boolean, message: () => string): void {
  if (!condition) throw new ModelViolation(message());
}

/** The call's outcome; a status that must never answer client input fails the run at once. */
async function attempt<T>(call: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; failure: CallFailure }> {
  try {
    return { ok: true, value: await call };
  } catch (error) {
    const failed = await failure(Promise.reject(error));
    expectThat(failed.code !== grpc.status.UNKNOWN && failed.code !== grpc.status.INTERNAL, () => `answered ${failed.codeName}: ${failed.details}`);
    return { ok: false, failure: failed };
  }
}

const reasonOf = (outcome: { ok: false; failure: CallFailure }) => outcome.failure.errorInfo?.reason ?? outcome.failure.codeName;

interface Tokens {
  session?: { session_id?: string } | null;
  tokens?: { access_token?: string; refresh_token?: string } | null;
}

function remember(model: Model, session: SessionM, response: Tokens): { refresh: string; access: AccessTokenM } {
  const access = response.tokens?.access_token ?? "";
  const org = String(decodeJwt(access)["org"] ?? "");
  const token = { token: access, session, org };
  model.accessTokens.push(token);
  return { refresh: response.tokens?.refresh_token ?? "", access: token };
}

type ModelCommand = fc.AsyncCommand<Model, ModelSystem>;

class Login implements ModelCommand {
  constructor(
    private readonly user: number,
    private readonly caller: ModelCaller,
    private readonly org: string,
    private readonly key: string | undefined,
    private readonly replica: number,
  ) {}
  check = () => true;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("Login");
    const request = { user_id: userId(model, this.user), active_org_id: this.org, ip_address: CLIENTS[0].ip, user_agent: USER_AGENT, idempotency_key: this.key ?? "" };
    const outcome = await attempt(system.clients(this.replica).session("CreateSession", request, asCaller(this.caller)));
    const earlier = this.key === undefined ? undefined : model.sessions.find((s) => s.user === this.user && s.key === this.key && !s.deleted);
    if (earlier !== undefined) {
      if (earlier.caller !== this.caller) {
        expectThat(!outcome.ok && reasonOf(outcome) === "INVALID_ARGUMENT", () => `another caller's idempotency key: ${JSON.stringify(outcome)}`);
        return;
      }
      if (!live(model, earlier)) {
        expectThat(!outcome.ok && reasonOf(outcome) === "SESSION_REVOKED", () => `retried login of a dead session: ${JSON.stringify(outcome)}`);
        return;
      }
      if (earlier.loginToken?.spent !== false) {
        expectThat(!outcome.ok && reasonOf(outcome) === "LOGIN_ALREADY_REFRESHED", () => `retried login after its token was used: ${JSON.stringify(outcome)}`);
        return;
      }
      expectThat(outcome.ok, () => `retried login refused: ${JSON.stringify(outcome)}`);
      if (!outcome.ok) return;
      expectThat(outcome.value.replayed === true && outcome.value.session?.session_id === earlier.id, () => "a retried login did not return its session");
      expectThat(outcome.value.tokens?.refresh_token === earlier.loginToken.secret, () => "a retried login did not return the first answer's refresh token");
      remember(model, earlier, outcome.value);
      return;
    }
    expectThat(outcome.ok, () => `login refused: ${JSON.stringify(outcome)}`);
    if (!outcome.ok) return;
    expectThat(outcome.value.replayed !== true, () => "a first login answered as a replay");
    const session: SessionM = {
      id: outcome.value.session?.session_id ?? "",
      user: this.user,
      caller: this.caller,
      key: this.key,
      userVersion: model.userVersions[this.user] ?? 0,
      globalVersion: model.globalVersion,
      org: this.org,
      revoked: false,
      deleted: false,
    };
    model.sessions.push(session);
    model.seenUsers.add(this.user);
    const { refresh } = remember(model, session, outcome.value);
    session.loginToken = { secret: refresh, session, spent: false, replays: { min: 0, max: 0 } };
    model.refreshTokens.push(session.loginToken);
  }
  toString = () => `Login(user ${this.user}, ${this.caller}, org "${this.org}", key ${this.key ?? "-"}, replica ${this.replica})`;
}

/** What the table says of a spent token, given how long ago (at least, at most) it was rotated. */
function spentAnswers(model: Model, token: RefreshTokenM, client: string, sinceMin: number, sinceMax: number): Set<"replay" | "replay-counted" | "concurrent" | "reuse"> {
  const { graceMs, burstMs, maxReplays } = model.settings;
  const answers = new Set<"replay" | "replay-counted" | "concurrent" | "reuse">();
  if (token.successor?.spent !== false || token.rotatedBy !== client) return new Set(["reuse"]);
  const burst = graceMs > 0 ? Math.min(burstMs, graceMs) : burstMs;
  if (sinceMin <= burst) answers.add(graceMs > 0 ? "replay" : "concurrent");
  if (sinceMax > burst && sinceMin <= graceMs && graceMs > 0) {
    if (token.replays.min < maxReplays) answers.add("replay-counted");
    if (token.replays.max >= maxReplays) answers.add("reuse");
  }
  if (sinceMax > Math.max(burst, graceMs)) answers.add("reuse");
  return answers;
}

class Refresh implements ModelCommand {
  constructor(
    private readonly token: number,
    private readonly client: number,
    private readonly byOwner: boolean,
    private readonly timing: Timing,
    private readonly switchTo: string | undefined,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.refreshTokens.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("Refresh");
    const token = pick(model.refreshTokens, this.token);
    if (token === undefined) return;
    const session = token.session;
    const caller: ModelCaller = this.byOwner ? session.caller : otherCaller(session.caller);
    const client = CLIENTS[this.client % CLIENTS.length] ?? CLIENTS[0];
    const { graceMs, burstMs } = model.settings;
    if (token.spent && token.rotatedUntil !== undefined && this.timing !== "now") {
      // Wait until the presentation lands clearly past the burst (mid) or the grace window (late).
      const boundary = this.timing === "mid" ? (graceMs > 0 ? Math.min(burstMs, graceMs) : burstMs) : Math.max(graceMs, burstMs);
      const wait = token.rotatedUntil + boundary + 150 - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const request = {
      refresh_token: token.secret,
      ip_address: client.ip,
      user_agent: USER_AGENT,
      ...(this.switchTo === undefined ? {} : { active_org_id: this.switchTo }),
    };
    const sentAt = Date.now();
    const outcome = await attempt(system.clients(this.replica).token("RefreshTokens", request, asCaller(caller)));
    const answeredAt = Date.now();
    const refused = (reasons: string[]) => expectThat(!outcome.ok && reasons.includes(reasonOf(outcome)), () => `${this}: expected ${reasons.join("|")}, got ${JSON.stringify(outcome)}`);
    // Another caller's token is unknown to it, whatever it asks.
    if (caller !== session.caller) return refused(["TOKEN_UNKNOWN"]);
    if (session.deleted) return refused(["TOKEN_UNKNOWN"]);
    if (session.revoked) return refused(["TOKEN_REVOKED"]);
    if (stale(model, session)) return refused(["VERSION_STALE"]);
    if (!token.spent) {
      expectThat(outcome.ok, () => `${this}: a live token was refused: ${JSON.stringify(outcome)}`);
      if (!outcome.ok) return;
      if (this.switchTo !== undefined) session.org = this.switchTo;
      const { refresh } = remember(model, session, outcome.value);
      expectThat(refresh !== token.secret && refresh.length > 0, () => "rotation returned no new refresh token");
      const successor: RefreshTokenM = { secret: refresh, session, spent: false, replays: { min: 0, max: 0 } };
      Object.assign(token, { spent: true, successor, rotatedBy: client.name, rotatedFrom: sentAt, rotatedUntil: answeredAt });
      model.refreshTokens.push(successor);
      return;
    }
    const allowed = spentAnswers(model, token, client.name, sentAt - (token.rotatedUntil ?? sentAt), answeredAt - (token.rotatedFrom ?? sentAt));
    if (outcome.ok) {
      expectThat(allowed.has("replay") || allowed.has("replay-counted"), () => `${this}: a spent token was accepted where the table says ${[...allowed].join("|")}`);
      expectThat(outcome.value.tokens?.refresh_token === token.successor?.secret, () => `${this}: a replay answered another successor`);
      remember(model, session, outcome.value);
      const counted = allowed.has("replay-counted") ? 1 : 0;
      const uncounted = allowed.has("replay") ? 0 : 1;
      token.replays = { min: token.replays.min + Math.min(counted, uncounted), max: token.replays.max + counted };
      return;
    }
    const reason = reasonOf(outcome);
    if (reason === "TOKEN_REUSED") {
      expectThat(allowed.has("reuse"), () => `${this}: reuse declared where the table says ${[...allowed].join("|")}`);
      session.revoked = true;
      return;
    }
    expectThat(reason === "CONCURRENT_REFRESH" && allowed.has("concurrent"), () => `${this}: ${reason} where the table says ${[...allowed].join("|")}`);
  }
  toString = () => `Refresh(token ${this.token}, client ${this.client}, ${this.byOwner ? "owner" : "other caller"}, ${this.timing}${this.switchTo === undefined ? "" : `, switch to "${this.switchTo}"`}, replica ${this.replica})`;
}

/** One client's parallel requests with one live token, spread over the replicas: one burst. */
class ParallelRefresh implements ModelCommand {
  constructor(private readonly token: number) {}
  check = (model: Model) => model.refreshTokens.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("ParallelRefresh");
    const token = pick(model.refreshTokens, this.token);
    if (token === undefined || token.spent || !live(model, token.session)) return;
    const request = { refresh_token: token.secret, ip_address: CLIENTS[0].ip, user_agent: USER_AGENT };
    const sentAt = Date.now();
    const outcomes = await Promise.all([0, 1, 2].map((i) => attempt(system.clients(i).token("RefreshTokens", request, asCaller(token.session.caller)))));
    const answeredAt = Date.now();
    const won = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.value] : []));
    const lost = outcomes.flatMap((outcome) => (outcome.ok ? [] : [reasonOf(outcome)]));
    if (model.settings.graceMs > 0) {
      expectThat(lost.length === 0, () => `a burst with grace on was refused: ${lost.join(",")}`);
      expectThat(new Set(won.map((value) => value.tokens?.refresh_token)).size === 1, () => "a burst was answered with different successors");
    } else {
      expectThat(won.length === 1 && lost.every((reason) => reason === "CONCURRENT_REFRESH"), () => `a burst with grace off: ${won.length} won, lost ${lost.join(",")}`);
    }
    const first = won[0];
    if (first === undefined) return;
    for (const value of won) remember(model, token.session, value);
    const successor: RefreshTokenM = { secret: first.tokens?.refresh_token ?? "", session: token.session, spent: false, replays: { min: 0, max: 0 } };
    Object.assign(token, { spent: true, successor, rotatedBy: "owner", rotatedFrom: sentAt, rotatedUntil: answeredAt });
    model.refreshTokens.push(successor);
  }
  toString = () => `ParallelRefresh(token ${this.token})`;
}

class Verify implements ModelCommand {
  constructor(
    private readonly token: number,
    private readonly where: "server" | "verifier",
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.accessTokens.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("Verify");
    const token = pick(model.accessTokens, this.token);
    if (token === undefined) return;
    const alive = live(model, token.session);
    if (this.where === "server" || system.verifiers === undefined) {
      const verify = () => attempt(system.clients(this.replica).token("VerifyAccessToken", { access_token: token.token }, asCaller("app-b")));
      let outcome = await verify();
      if (alive) {
        expectThat(outcome.ok && outcome.value.claims?.session_id === token.session.id, () => `${this}: a live access token was refused: ${JSON.stringify(outcome)}`);
        return;
      }
      // One server applies its own revocations at once; between replicas they travel the feed, in moments.
      const started = Date.now();
      while (outcome.ok && system.replicaCount > 1 && Date.now() - started < PROPAGATION_MS) {
        await sleep(10);
        outcome = await verify();
      }
      slowestPropagationMs = Math.max(slowestPropagationMs, Date.now() - started);
      expectThat(!outcome.ok && accessRefusals(model, token.session).includes(reasonOf(outcome)), () => `${this}: a dead access token: ${JSON.stringify(outcome)}`);
      return;
    }
    // The org-a verifier only learns of org-a sessions: ask it only about tokens that carry org-a.
    const verifier = token.org === "org-a" && this.replica % 2 === 1 ? system.verifiers.orgA : system.verifiers.all;
    const ask = () => verifier.verify(token.token).then((answer) => answer, (error: unknown) => ({ valid: false as const, reason: `rejected: ${String(error)}`, source: "server" as const }));
    if (alive) {
      const answer = await ask();
      // Cut off and stale, a verifier may refuse by rejecting; it may never call a live token dead.
      expectThat(answer.valid || answer.reason.startsWith("rejected"), () => `${this}: the verifier refused a live token: ${JSON.stringify(answer)}`);
      return;
    }
    // A revocation reaches a verifier within moments, or within maxStalenessMs of its stream being cut.
    const deadline = Date.now() + system.maxStalenessMs + 5_000;
    let answer = await ask();
    while (answer.valid && Date.now() < deadline) {
      await sleep(20);
      answer = await ask();
    }
    expectThat(!answer.valid, () => `${this}: the verifier still accepts a dead token (stream ${model.streamCut ? "cut" : "up"})`);
    if (!answer.valid && !answer.reason.startsWith("rejected")) {
      expectThat(accessRefusals(model, token.session).includes(answer.reason), () => `${this}: the verifier refused with ${answer.reason}`);
    }
  }
  toString = () => `Verify(access ${this.token}, ${this.where}, replica ${this.replica})`;
}

class RevokeSession implements ModelCommand {
  constructor(
    private readonly session: number,
    private readonly byOwner: boolean,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.sessions.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("RevokeSession");
    const target = sessionTarget(model, this.session, this.byOwner);
    if (target === undefined) return;
    const { session, caller } = target;
    const outcome = await attempt(system.clients(this.replica).session("RevokeSession", { session_id: session.id, reason: "logout" }, asCaller(caller)));
    if (!this.byOwner || session.deleted) {
      expectUnknownSession(this, outcome);
      return;
    }
    expectThat(outcome.ok, () => `${this}: the owner could not revoke: ${JSON.stringify(outcome)}`);
    // A session a version bump already ended stays ended by that (revoking it again changes nothing).
    if (live(model, session)) session.revoked = true;
  }
  toString = () => `RevokeSession(session ${this.session}, ${this.byOwner ? "owner" : "other caller"}, replica ${this.replica})`;
}

class GetSession implements ModelCommand {
  constructor(
    private readonly session: number,
    private readonly byOwner: boolean,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.sessions.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("GetSession");
    const target = sessionTarget(model, this.session, this.byOwner);
    if (target === undefined) return;
    const { session, caller } = target;
    const outcome = await attempt(system.clients(this.replica).session("GetSession", { session_id: session.id }, asCaller(caller)));
    if (!this.byOwner || session.deleted) {
      expectUnknownSession(this, outcome);
      return;
    }
    expectThat(outcome.ok, () => `${this}: ${JSON.stringify(outcome)}`);
    if (!outcome.ok) return;
    const state = outcome.value.session?.state;
    expectThat(state === (live(model, session) ? "SESSION_STATE_ACTIVE" : "SESSION_STATE_REVOKED"), () => `${this}: state ${String(state)}`);
  }
  toString = () => `GetSession(session ${this.session}, ${this.byOwner ? "owner" : "other caller"}, replica ${this.replica})`;
}

/** Another way a session changes organisation: its next tokens carry the new one, its earlier tokens the old. */
class UpdateSession implements ModelCommand {
  constructor(
    private readonly session: number,
    private readonly byOwner: boolean,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.sessions.length > 0;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("UpdateSession");
    const target = sessionTarget(model, this.session, this.byOwner);
    if (target === undefined) return;
    const { session, caller } = target;
    const org = ORGS[(ORGS.indexOf(session.org as (typeof ORGS)[number]) + 1) % ORGS.length] ?? "";
    const outcome = await attempt(system.clients(this.replica).session("UpdateSession", { session_id: session.id, active_org_id: org, device_name: "model-device" }, asCaller(caller)));
    if (!this.byOwner || session.deleted) {
      expectUnknownSession(this, outcome);
      return;
    }
    if (!live(model, session)) {
      expectThat(!outcome.ok && reasonOf(outcome) === "SESSION_REVOKED", () => `${this}: a dead session: ${JSON.stringify(outcome)}`);
      return;
    }
    expectThat(outcome.ok && outcome.value.session?.active_org_id === org, () => `${this}: ${JSON.stringify(outcome)}`);
    session.org = org;
  }
  toString = () => `UpdateSession(session ${this.session}, ${this.byOwner ? "owner" : "other caller"}, replica ${this.replica})`;
}

class RevokeUserTokens implements ModelCommand {
  constructor(
    private readonly user: number,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.seenUsers.has(this.user);
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("RevokeUserTokens");
    const outcome = await attempt(system.clients(this.replica).token("RevokeUserTokens", { user_id: userId(model, this.user), reason: "password_changed" }, asCaller("app-a")));
    expectThat(outcome.ok, () => `${this}: ${JSON.stringify(outcome)}`);
    model.userVersions[this.user] = (model.userVersions[this.user] ?? 0) + 1;
  }
  toString = () => `RevokeUserTokens(user ${this.user}, replica ${this.replica})`;
}

class RevokeAllTokens implements ModelCommand {
  constructor(private readonly replica: number) {}
  check = () => true;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("RevokeAllTokens");
    const outcome = await attempt(system.clients(this.replica).token("RevokeAllTokens", { reason: "drill" }, asCaller("app-b")));
    expectThat(outcome.ok, () => `${this}: ${JSON.stringify(outcome)}`);
    model.globalVersion += 1;
  }
  toString = () => `RevokeAllTokens(replica ${this.replica})`;
}

class DeleteUserData implements ModelCommand {
  constructor(
    private readonly user: number,
    private readonly replica: number,
  ) {}
  check = (model: Model) => model.seenUsers.has(this.user);
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("DeleteUserData");
    const outcome = await attempt(system.clients(this.replica).session("DeleteUserData", { user_id: userId(model, this.user) }, asCaller("app-b")));
    expectThat(outcome.ok, () => `${this}: ${JSON.stringify(outcome)}`);
    for (const session of model.sessions) if (session.user === this.user) session.deleted = true;
  }
  toString = () => `DeleteUserData(user ${this.user}, replica ${this.replica})`;
}

class Restart implements ModelCommand {
  constructor(private readonly replica: number) {}
  check = () => true;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("Restart");
    await system.restart(this.replica);
  }
  toString = () => `Restart(replica ${this.replica})`;
}

class CutStream implements ModelCommand {
  check = (model: Model) => !model.streamCut;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("CutStream");
    system.cutStream();
    model.streamCut = true;
  }
  toString = () => "CutStream";
}

class RestoreStream implements ModelCommand {
  check = (model: Model) => model.streamCut;
  async run(model: Model, system: ModelSystem): Promise<void> {
    tally("RestoreStream");
    system.restoreStream();
    model.streamCut = false;
  }
  toString = () => "RestoreStream";
}

/** Every command, weighted towards what finds rotation bugs: refreshes and replays of any token, at any time. */
export function modelCommands(options: { readonly replicas: number; readonly withVerifiers: boolean; readonly maxCommands: number }) {
  const replica = fc.nat({ max: Math.max(0, options.replicas - 1) });
  // Mostly one of the newest few (a token just rotated, its parent, its grandparent), sometimes any.
  const index = fc.oneof({ arbitrary: fc.nat({ max: 3 }).map((back) => -1 - back), weight: 3 }, { arbitrary: fc.nat({ max: 1_000 }), weight: 1 });
  const owner = fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 });
  const user = fc.nat({ max: USERS - 1 });
  const caller = fc.constantFrom<ModelCaller>("app-a", "app-b");
  const login = fc
    .tuple(user, caller, fc.constantFrom(...ORGS), fc.oneof(fc.constant(undefined), fc.constantFrom(...KEYS)), replica)
    .map(([u, c, o, k, r]): ModelCommand => new Login(u, c, o, k, r));
  const weighted: { arbitrary: fc.Arbitrary<ModelCommand>; weight: number }[] = [
    { weight: 4, arbitrary: login },
    {
      weight: 12,
      arbitrary: fc
        .tuple(
          index,
          fc.nat({ max: CLIENTS.length - 1 }),
          owner,
          fc.constantFrom<Timing>("now", "now", "now", "mid", "late"),
          fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constantFrom(...ORGS), weight: 1 }),
          replica,
        )
        // A thief presents through the owner's caller: through another it would only ever be unknown.
        .map(([t, c, o, timing, s, r]) => new Refresh(t, c, o || c === 2, timing, s, r)),
    },
    { weight: 5, arbitrary: fc.tuple(index, fc.constantFrom<"server" | "verifier">("server", "verifier"), fc.nat({ max: 5 })).map(([t, w, r]) => new Verify(t, w, r)) },
    { weight: 2, arbitrary: fc.tuple(index, fc.boolean(), replica).map(([s, o, r]) => new RevokeSession(s, o, r)) },
    { weight: 2, arbitrary: fc.tuple(index, fc.boolean(), replica).map(([s, o, r]) => new GetSession(s, o, r)) },
    { weight: 1, arbitrary: fc.tuple(index, fc.boolean(), replica).map(([s, o, r]) => new UpdateSession(s, o, r)) },
    { weight: 1, arbitrary: fc.tuple(user, replica).map(([u, r]) => new RevokeUserTokens(u, r)) },
    { weight: 1, arbitrary: replica.map((r) => new RevokeAllTokens(r)) },
    { weight: 1, arbitrary: fc.tuple(user, replica).map(([u, r]) => new DeleteUserData(u, r)) },
    { weight: 1, arbitrary: replica.map((r) => new Restart(r)) },
    { weight: 1, arbitrary: index.map((t) => new ParallelRefresh(t)) },
  ];
  if (options.withVerifiers) weighted.push({ weight: 1, arbitrary: fc.constant(new CutStream()) }, { weight: 1, arbitrary: fc.constant(new RestoreStream()) });
  // A plain array, not fc.commands: runs need their full length (fc.commands favours short ones), and
  // every command is skipped by its check() when the model has nothing for it yet.
  // Two logins first, so no run spends itself on commands that have nothing to act on.
  return fc
    .tuple(login, login, fc.array(fc.oneof(...weighted), { minLength: Math.ceil(options.maxCommands / 2) - 2, maxLength: options.maxCommands - 2 }))
    .map(([first, second, rest]) => [first, second, ...rest]);
}

export interface ModelRunOptions {
  readonly seed: number;
  readonly numRuns: number;
  readonly maxCommands: number;
}

/** The fixed seed and size `npm test` runs; MODEL_SEED / MODEL_RUNS / MODEL_COMMANDS for a longer run on demand. */
export function modelRunOptions(defaults: { numRuns: number; maxCommands: number }): ModelRunOptions {
  const number = (name: string, fallback: number) => {
    const text = process.env[name];
    return text === undefined || text === "" ? fallback : Number(text);
  };
  return { seed: number("MODEL_SEED", 20261203), numRuns: number("MODEL_RUNS", defaults.numRuns), maxCommands: number("MODEL_COMMANDS", defaults.maxCommands) };
}

/** Runs the commands against one system; each run gets users of its own, so runs do not see each other's sessions. */
export async function checkModel(system: ModelSystem, settings: ModelSettings, options: ModelRunOptions & { readonly withVerifiers: boolean }): Promise<void> {
  let run = 0;
  console.info(`model-based test: seed ${options.seed}, ${options.numRuns} runs of up to ${options.maxCommands} commands (MODEL_SEED=${options.seed} to replay)`);
  await fc.assert(
    fc.asyncProperty(modelCommands({ replicas: system.replicaCount, withVerifiers: options.withVerifiers, maxCommands: options.maxCommands }), async (commands) => {
      run += 1;
      const model = newModel(`m${run}-${Date.now().toString(36)}`, settings);
      if (process.env["MODEL_DEBUG"] !== undefined) console.info(`run ${run}: ${commands.length} commands`);
      try {
        await fc.asyncModelRun(() => ({ model, real: system }), commands);
      } finally {
        if (model.streamCut) system.restoreStream();
      }
    }),
    // Shrinking replays sequences against the real service: on demand (MODEL_SHRINK=1), with the seed and path printed either way.
    { seed: options.seed, numRuns: options.numRuns, endOnFailure: process.env["MODEL_SHRINK"] === undefined },
  );
  console.info(`model-based test: ${run} runs; commands run: ${[...tallies].map(([name, count]) => `${name} ${count}`).join(", ")}; slowest refusal of a dead token by a replica: ${slowestPropagationMs} ms`);
  tallies.clear();
  slowestPropagationMs = 0;
}
