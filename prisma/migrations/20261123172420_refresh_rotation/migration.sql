-- AlterTable
ALTER TABLE "global_state" ADD COLUMN     "bumped_at" TIMESTAMPTZ(6),
ADD COLUMN     "reason" TEXT;

-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "replay_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "rotated_by" TEXT,
ADD COLUMN     "rotated_client" BYTEA;

-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "refresh_ttl_seconds" INTEGER NOT NULL DEFAULT 1209600;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "token_version_bumped_at" TIMESTAMPTZ(6),
ADD COLUMN     "token_version_reason" TEXT;

-- CreateTable
CREATE TABLE "service_secrets" (
    "name" TEXT NOT NULL,
    "secret" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "service_secrets_pkey" PRIMARY KEY ("name")
);
