-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "users" (
    "user_id" TEXT NOT NULL,
    "token_version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "global_state" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "global_version" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "global_state_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "active_org_id" TEXT,
    "device_name" TEXT,
    "user_agent" TEXT,
    "ip_address" TEXT,
    "last_ip_address" TEXT,
    "location" TEXT,
    "is_trusted" BOOLEAN NOT NULL DEFAULT false,
    "amr" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "acr" TEXT,
    "auth_time" TIMESTAMPTZ(6) NOT NULL,
    "extra_claims" JSONB NOT NULL DEFAULT '{}',
    "suspicious_activity_count" INTEGER NOT NULL DEFAULT 0,
    "accessed_providers" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "last_provider" TEXT,
    "last_provider_sync_at" TIMESTAMPTZ(6),
    "created_by" TEXT NOT NULL,
    "idempotency_key" TEXT,
    "token_version" BIGINT NOT NULL,
    "global_version" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_activity_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "revoked_at" TIMESTAMPTZ(6),
    "revoke_reason" TEXT,
    "client_info_erased_at" TIMESTAMPTZ(6),

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refresh_tokens" (
    "id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "parent_id" UUID,
    "token_hash" BYTEA NOT NULL,
    "token_version" BIGINT NOT NULL,
    "global_version" BIGINT NOT NULL,
    "issued_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "rotated_at" TIMESTAMPTZ(6),
    "revoked_at" TIMESTAMPTZ(6),
    "revoke_reason" TEXT,

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signing_keys" (
    "kid" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "private_jwk" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(6),

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid")
);

-- CreateTable
CREATE TABLE "revocation_events" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "session_id" UUID,
    "user_id" TEXT,
    "org_id" TEXT,
    "version" BIGINT,
    "reason" TEXT NOT NULL,
    "caller" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "revocation_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "sessions_user_created_idx" ON "sessions"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_created_idx" ON "sessions"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_parent_key" ON "refresh_tokens"("parent_id");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_hash_key" ON "refresh_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_session_idx" ON "refresh_tokens"("session_id");

-- CreateIndex
CREATE INDEX "revocation_events_occurred_idx" ON "revocation_events"("occurred_at");

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: what Prisma's schema language cannot express.

-- The global version lives in exactly one row, created here so that bumping it
-- is always a single UPDATE.
ALTER TABLE "global_state" ADD CONSTRAINT "global_state_single_row" CHECK ("id" = 1);
INSERT INTO "global_state" ("id") VALUES (1) ON CONFLICT DO NOTHING;

-- Active sessions of a user: the session limit, ListSessions(active only) and
-- RevokeUserSessions read only these rows.
CREATE INDEX "sessions_user_active_idx" ON "sessions"("user_id", "created_at") WHERE "revoked_at" IS NULL;

-- A retried login (same user, same idempotency key) must find the first
-- session; the unique index also stops two concurrent retries from both
-- creating one.
CREATE UNIQUE INDEX "sessions_user_idempotency_key" ON "sessions"("user_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL;

-- Backstop for rotation races: a session never has two live refresh tokens.
CREATE UNIQUE INDEX "refresh_tokens_one_live_per_session" ON "refresh_tokens"("session_id") WHERE "rotated_at" IS NULL AND "revoked_at" IS NULL;

-- Backstop for replicas starting together: exactly one key signs.
CREATE UNIQUE INDEX "signing_keys_one_active" ON "signing_keys"((true)) WHERE "state" = 'active';
