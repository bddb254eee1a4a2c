import * as grpc from "@grpc/grpc-js";
import type { Config } from "./config.js";
import type { SigningKeyView } from "./domain/signing-key-lifecycle.js";
import type { KeyStage } from "./domain/signing-keys.js";
import type { SigningKey__Output } from "./generated/proto/types/sessionauthority/v1/SigningKey.js";
import type { TokenServiceClient } from "./generated/proto/types/sessionauthority/v1/TokenService.js";
import { services } from "./grpc/proto.js";

export class ServerCallError extends Error {
  override readonly name = "ServerCallError";
}

const millis = (timestamp: { seconds: string; nanos: number } | null) =>
  timestamp === null ? null : new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6));

function toView(key: SigningKey__Output): SigningKeyView {
  return {
    kid: key.kid,
    algorithm: key.alg,
    stage: key.stage.replace("SIGNING_KEY_STAGE_", "").toLowerCase() as KeyStage,
    publishedAt: millis(key.published_at) ?? new Date(0),
    activatesAt: millis(key.activates_at) ?? new Date(0),
    retiresAt: millis(key.retires_at),
    revokedAt: millis(key.revoked_at),
    revokeReason: key.revoke_reason || null,
    kekId: key.kek_id || null,
  };
}

/**
 * The embedded database belongs to the running server, so `keys list`,
 * `rotate` and `revoke` go through its RPCs instead: same domain code, same
 * result. CLI_API_KEY authenticates when the server requires API keys.
 */
export class KeysViaServer {
  private readonly client: TokenServiceClient;
  private readonly metadata = new grpc.Metadata();

  constructor(config: Config) {
    const host = config.grpc.host === "0.0.0.0" || config.grpc.host === "::" ? "127.0.0.1" : config.grpc.host;
    this.client = new services.sessionauthority.v1.TokenService(`${host}:${config.grpc.port}`, grpc.credentials.createInsecure());
    if (config.cliApiKey !== undefined) this.metadata.set("authorization", `Bearer ${config.cliApiKey}`);
  }

  async list(): Promise<SigningKeyView[]> {
    const response = await this.call<{ keys: SigningKey__Output[] }>("ListSigningKeys", {});
    return response.keys.map(toView);
  }

  async rotate(reason: string): Promise<SigningKeyView[]> {
    const response = await this.call<{ keys: SigningKey__Output[] }>("RotateSigningKey", { reason });
    return response.keys.map(toView);
  }

  async revoke(kid: string, reason: string, revokeAllTokens: boolean) {
    const response = await this.call<{ keys: SigningKey__Output[]; signing_kid: string; global_version: string }>("RevokeSigningKey", {
      kid,
      reason,
      revoke_all_tokens: revokeAllTokens,
    });
    return { keys: response.keys.map(toView), signerKid: response.signing_kid, globalVersion: revokeAllTokens ? BigInt(response.global_version) : undefined };
  }

  close(): void {
    this.client.close();
  }

  private call<Response>(method: "ListSigningKeys" | "RotateSigningKey" | "RevokeSigningKey", request: object): Promise<Response> {
    return new Promise((resolve, reject) => {
      type Callback = (error: grpc.ServiceError | null, response?: Response) => void;
      const callback: Callback = (error, response) => {
        if (error !== null) reject(new ServerCallError(`${method} on the running server failed: ${error.details}`));
        else resolve(response as Response);
      };
      (this.client[method] as unknown as (request: object, metadata: grpc.Metadata, callback: Callback) => void).call(this.client, request, this.metadata, callback);
    });
  }
}
