import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import { errorReason } from "./client.js";
import { JwksCache } from "./jwks-cache.js";
import { factOf, RevocationState } from "./revocation-state.js";
import { timeVerdict, VerifiedTokens, type TimeVerdict } from "./verified-tokens.js";

export interface VerifierOptions {
  /** gRPC address of session-authority, e.g. "127.0.0.1:50051". */
  readonly target: string;
  /** Its JWKS on the HTTP side port, e.g. "http://127.0.0.1:8080/.well-known/jwks.json". */
  readonly jwksUrl: string;
  /** Expected `iss` and `aud` (the server's TOKEN_ISSUER / TOKEN_AUDIENCE). */
  readonly issuer?: string;
  readonly audience?: string;
  /** Channel credentials; plaintext by default (loopback, or a mesh that encrypts). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Sent as `authorization: Bearer …` when the server requires API keys. */
  readonly apiKey?: string;
  /** Only revocations of these organisations' sessions (your policy may require it). */
  readonly orgIds?: readonly string[];
  /**
   * With the revocation stream down, local state is trusted only this long
   * after the last message actually received (snapshot, event or heartbeat);
   * after that, verify() asks the server. Default 5 s.
   */
  readonly maxStalenessMs?: number;
  /** A stream that sends nothing, not even a heartbeat, for this long counts as down. Default 45 s (three server heartbeats). */
  readonly maxSilenceMs?: number;
  /** Deadline of a VerifyAccessToken call made while stale; past it verify() rejects (refuses). Default 2 s. */
  readonly serverTimeoutMs?: number;
  /** Clock skew allowed on `exp` and `iat`. Default 60 s, as the server's. */
  readonly clockToleranceSeconds?: number;
  /**
   * Tokens whose signature was checked and need not be checked again (time and
   * revocation are checked on every call). Default 10,000; 0 checks every time.
   */
  readonly verifiedTokenCacheSize?: number;
  /** Where sessionauthority/v1/*.proto and google/rpc/*.proto are; default: this package's proto/. */
  readonly protoDir?: string;
}

export type Verification =
  | { readonly valid: true; readonly claims: JWTPayload & Record<string, unknown>; readonly source: "local" | "server" }
  | { readonly valid: false; readonly reason: string; readonly source: "local" | "server" };

const ALGORITHMS = ["EdDSA", "ES256", "RS256"];
const TIME_REASONS: Record<NonNullable<TimeVerdict>, string> = {
  expired: "TOKEN_EXPIRED",
  not_yet_valid: "TOKEN_CLAIM_MISMATCH",
  issued_in_future: "TOKEN_ISSUED_IN_FUTURE",
};
const MAX_RETRY_MS = 5_000;

interface SnapshotPage {
  cursor: string;
  global_version: string;
  user_versions: { user_id: string; token_version: string }[];
  revoked_sessions: { session_id: string }[];
  revoked_kids: string[];
  window: { seconds: string } | null;
  next_page_token: string;
}

interface RevocationEventMessage {
  cursor: string;
  kind: string;
  session_id: string;
  user_id: string;
  version: string;
  kid: string;
}

/**
 * Verifies session-authority access tokens inside a resource server with no
 * call per request: signature from the cached JWKS, revocation from state
 * built from GetRevocationSnapshot and kept current by WatchRevocations
 * (resumed from its last cursor after a disconnect). When the stream has
 * been down longer than `maxStalenessMs` it stops trusting itself and asks
 * the server's VerifyAccessToken until the stream is back.
 */
export class SessionVerifier {
  private state = new RevocationState(0);
  private cursor = "";
  private stream: grpc.ClientReadableStream<{ event?: RevocationEventMessage | null; heartbeat?: { cursor: string } | null }> | undefined;
  /**
   * When the server last told this verifier anything. Only a received
   * message moves it: a reconnect attempt proves nothing, and counting from
   * one kept a verifier whose stream was cut (or black-holed) trusting
   * itself forever.
   */
  private lastReceived = Date.now();
  /** A message arrived on the current stream and it has not failed since. */
  private streaming = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly jwks: JwksCache;
  private readonly verified: VerifiedTokens;
  private readonly client: grpc.Client & Record<string, (...args: never[]) => unknown>;

  private constructor(private readonly options: VerifierOptions) {
    this.jwks = new JwksCache(options.jwksUrl);
    this.verified = new VerifiedTokens(options.verifiedTokenCacheSize ?? 10_000);
    const protoDir = options.protoDir ?? fileURLToPath(new URL("../proto/", import.meta.url));
    const definition = protoLoader.loadSync("sessionauthority/v1/token_service.proto", {
      includeDirs: [protoDir],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      sessionauthority: { v1: { TokenService: new (target: string, credentials: grpc.ChannelCredentials) => SessionVerifier["client"] } };
    };
    this.client = new loaded.sessionauthority.v1.TokenService(options.target, options.credentials ?? grpc.credentials.createInsecure());
  }

  /** Fetches the JWKS and the revocation snapshot, opens the stream, and resolves once ready. */
  static async start(options: VerifierOptions): Promise<SessionVerifier> {
    const verifier = new SessionVerifier(options);
    try {
      await verifier.jwks.refresh();
      await verifier.resync();
    } catch (error) {
      verifier.close();
      throw error;
    }
    return verifier;
  }

  /** True when local revocation state may be behind: verify() then asks the server. */
  get stale(): boolean {
    const silentFor = Date.now() - this.lastReceived;
    return silentFor > (this.streaming ? (this.options.maxSilenceMs ?? 45_000) : (this.options.maxStalenessMs ?? 5_000));
  }

  /** The position in the revocation feed this verifier has applied up to. */
  get position(): string {
    return this.cursor;
  }

  async verify(token: string): Promise<Verification> {
    const local = await this.verifySignature(token);
    if ("valid" in local) return local;
    const claims = local.claims;
    if (this.stale) return this.verifyOnServer(token, claims);
    const verdict = this.state.check({
      sessionId: typeof claims["sid"] === "string" ? claims["sid"] : "",
      userId: claims.sub ?? "",
      tokenVersion: BigInt(typeof claims["tv"] === "number" ? claims["tv"] : -1),
      globalVersion: BigInt(typeof claims["gv"] === "number" ? claims["gv"] : -1),
      keyId: local.kid,
    });
    return verdict === undefined ? { valid: true, claims, source: "local" } : { valid: false, reason: verdict, source: "local" };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stream?.cancel();
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.apiKey !== undefined) metadata.set("authorization", `Bearer ${this.options.apiKey}`);
    return metadata;
  }

  /**
   * The claims and kid of a token whose signature, issuer, audience and times
   * check out; else the refusal. A token verified before skips the signature
   * while the JWKS still lists its key; its times are checked again.
   */
  private async verifySignature(token: string): Promise<{ claims: JWTPayload & Record<string, unknown>; kid: string } | Verification> {
    const tolerance = this.options.clockToleranceSeconds ?? 60;
    const known = this.verified.lookup(token);
    if (known !== undefined) {
      // A key set that cannot be refreshed, or no longer lists the key, is the full path's to report.
      const listed = await this.jwks.keyFor(known.kid).then(() => this.jwks.lists(known.kid), () => false);
      if (listed) {
        const verdict = timeVerdict(known, Math.floor(Date.now() / 1000), tolerance);
        if (verdict !== undefined) return { valid: false, reason: TIME_REASONS[verdict], source: "local" };
        return { claims: decodeJwt(token) as JWTPayload & Record<string, unknown>, kid: known.kid };
      }
      this.verified.forget(token);
    }
    let kid: string;
    let alg: string;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg === undefined || !ALGORITHMS.includes(header.alg)) return { valid: false, reason: "TOKEN_ALGORITHM_REFUSED", source: "local" };
      kid = header.kid ?? "";
      alg = header.alg;
    } catch {
      return { valid: false, reason: "TOKEN_INVALID", source: "local" };
    }
    try {
      const { payload } = await jwtVerify(token, await this.jwks.keyFor(kid), {
        issuer: this.options.issuer ?? "session-authority",
        audience: this.options.audience ?? "platform",
        algorithms: ALGORITHMS,
        clockTolerance: tolerance,
      });
      if (typeof payload.iat !== "number" || payload.iat > Date.now() / 1000 + tolerance) {
        return { valid: false, reason: "TOKEN_ISSUED_IN_FUTURE", source: "local" };
      }
      const claims = payload as JWTPayload & Record<string, unknown>;
      // Every token session-authority issues has `exp`; one without it is not kept.
      if (typeof payload.exp === "number") {
        this.verified.remember(token, { kid, alg, expiresAt: payload.exp, notBefore: payload.nbf, issuedAt: payload.iat });
      }
      return { claims, kid };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { valid: false, reason: "TOKEN_EXPIRED", source: "local" };
      if (error instanceof errors.JWKSNoMatchingKey) return { valid: false, reason: "TOKEN_KEY_UNKNOWN", source: "local" };
      if (error instanceof errors.JWSSignatureVerificationFailed) return { valid: false, reason: "TOKEN_SIGNATURE_INVALID", source: "local" };
      if (error instanceof errors.JWTClaimValidationFailed) return { valid: false, reason: "TOKEN_CLAIM_MISMATCH", source: "local" };
      return { valid: false, reason: "TOKEN_INVALID", source: "local" };
    }
  }

  /** The signature and claims were checked here; the server answers for revocation. */
  private verifyOnServer(token: string, claims: JWTPayload & Record<string, unknown>): Promise<Verification> {
    return new Promise((resolve, reject) => {
      this.client["VerifyAccessToken"]!(
        { access_token: token } as never,
        this.metadata() as never,
        { deadline: Date.now() + (this.options.serverTimeoutMs ?? 2_000) } as never,
        ((error: grpc.ServiceError | null) => {
          if (error === null) return resolve({ valid: true, claims, source: "server" });
          if (error.code === grpc.status.UNAUTHENTICATED) return resolve({ valid: false, reason: errorReason(error) ?? "UNAUTHENTICATED", source: "server" });
          reject(error);
        }) as never,
      );
    });
  }

  /** A fresh state from the snapshot, then the stream from its cursor. */
  private async resync(): Promise<void> {
    // Every page of one snapshot carries its first page's cursor: the stream
    // from there brings whatever changed while the pages were read.
    let page = await this.snapshotPage("");
    const cursor = page.cursor;
    const state = new RevocationState(Number(page.window?.seconds ?? 3660) * 1000);
    for (;;) {
      state.applySnapshot(
        {
          globalVersion: BigInt(page.global_version),
          userVersions: page.user_versions.map((user) => ({ userId: user.user_id, version: BigInt(user.token_version) })),
          revokedSessionIds: page.revoked_sessions.map((session) => session.session_id),
          revokedKeyIds: page.revoked_kids,
        },
        Date.now(),
      );
      if (page.next_page_token === "") break;
      page = await this.snapshotPage(page.next_page_token);
    }
    this.state = state;
    this.cursor = cursor;
    this.lastReceived = Date.now();
    this.openStream();
  }

  /** One page of GetRevocationSnapshot: pages keep each answer under gRPC's default 4 MiB receive limit. */
  private snapshotPage(pageToken: string): Promise<SnapshotPage> {
    return new Promise<SnapshotPage>((resolve, reject) => {
      this.client["GetRevocationSnapshot"]!({ org_ids: [...(this.options.orgIds ?? [])], page_token: pageToken } as never, this.metadata() as never, ((error: Error | null, response: never) =>
        error === null ? resolve(response) : reject(error)) as never);
    });
  }

  private openStream(): void {
    if (this.closed) return;
    const stream = (this.client["WatchRevocations"]! as (request: unknown, metadata: grpc.Metadata) => NonNullable<SessionVerifier["stream"]>)(
      { cursor: this.cursor, org_ids: [...(this.options.orgIds ?? [])] },
      this.metadata(),
    );
    this.stream = stream;
    this.streaming = false;
    stream.on("data", (message) => {
      this.lastReceived = Date.now();
      this.streaming = true;
      this.retryMs = 250;
      if (message.event) {
        const event = message.event;
        this.state.apply(
          factOf({
            kind: event.kind.replace(/^REVOCATION_EVENT_KIND_/, "").toLowerCase(),
            sessionId: event.session_id,
            userId: event.user_id,
            version: BigInt(event.version || "0"),
            keyId: event.kid,
          }),
          Date.now(),
        );
        this.cursor = event.cursor;
      } else if (message.heartbeat) {
        this.cursor = message.heartbeat.cursor;
      }
      this.state.prune(Date.now());
    });
    stream.on("error", (error: grpc.ServiceError) => {
      if (this.closed || this.stream !== stream) return;
      this.streaming = false;
      // The cursor fell out of the server's retention: start over from a snapshot.
      this.retryLater(error.code === grpc.status.OUT_OF_RANGE ? () => this.resyncUntilDone() : () => this.openStream());
    });
  }

  private resyncUntilDone(): void {
    this.resync().catch(() => this.retryLater(() => this.resyncUntilDone()));
  }

  private retryLater(action: () => void): void {
    if (this.closed) return;
    this.streaming = false;
    this.retryTimer = setTimeout(action, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}
