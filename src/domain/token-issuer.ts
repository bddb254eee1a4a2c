import { accessTokenJti, signAccessToken } from "../crypto/access-token.js";
import { issueRefreshToken, type IssuedRefreshToken } from "../crypto/refresh-token.js";
import type { SessionRecord } from "../store/records.js";
import type { Clock, Random } from "./context.js";
import type { KeyRing } from "./signing-keys.js";

export interface IssuedAccessToken {
  readonly token: string;
  readonly expiresAt: Date;
}

export interface TokenIssuerSettings {
  readonly issuer: string;
  readonly audience: string;
}

export class TokenIssuer {
  constructor(
    private readonly keys: KeyRing,
    private readonly settings: TokenIssuerSettings,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /**
   * Access tokens carry the session's current claims and the versions stamped
   * on it; their `jti` names the refresh token issued with them (see accessTokenJti).
   */
  async accessToken(session: SessionRecord, ttlMs: number, refreshTokenId: string): Promise<IssuedAccessToken> {
    const issuedAt = this.clock.now();
    // Never outlive the session itself.
    const expiresAt = new Date(Math.min(issuedAt.getTime() + ttlMs, session.expiresAt.getTime()));
    const token = await signAccessToken(this.keys.signer(), {
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      userId: session.userId,
      sessionId: session.id,
      clientId: session.createdBy,
      jti: accessTokenJti(refreshTokenId, this.random(8)),
      issuedAt,
      expiresAt,
      tokenVersion: session.tokenVersion,
      globalVersion: session.globalVersion,
      activeOrgId: session.activeOrgId,
      amr: session.amr,
      acr: session.acr,
      authTime: session.authTime,
      extraClaims: session.extraClaims,
    });
    return { token, expiresAt };
  }

  refreshToken(): IssuedRefreshToken {
    return issueRefreshToken(this.random);
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  get audience(): string {
    return this.settings.audience;
  }
}
