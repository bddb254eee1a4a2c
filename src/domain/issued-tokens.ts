export interface IssuedTokens {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: Date;
  /** Hand to the client once; never store or log. */
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: Date;
}
