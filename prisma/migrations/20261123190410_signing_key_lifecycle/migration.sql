-- Secrets are now AES-256-GCM envelopes under a KEK named by kek_id. Rows
-- written before keep their plaintext (kek_id NULL) until the next start wraps
-- them: SQL cannot encrypt, because the KEK is never in the database.
ALTER TABLE "service_secrets" ADD COLUMN     "kek_id" TEXT;

-- A key's stage now follows from its times instead of a state column, so
-- staged rotation needs no job to move keys along.
ALTER TABLE "signing_keys" ADD COLUMN     "activates_at" TIMESTAMPTZ(6),
ADD COLUMN     "kek_id" TEXT,
ADD COLUMN     "retires_at" TIMESTAMPTZ(6),
ADD COLUMN     "revoke_reason" TEXT,
ADD COLUMN     "revoked_at" TIMESTAMPTZ(6),
ADD COLUMN     "wrapped_private_key" BYTEA,
ALTER COLUMN "private_jwk" DROP NOT NULL;

-- The one key signing so far ('active' was the only state ever written) has
-- signed since it was created.
UPDATE "signing_keys" SET "activates_at" = "created_at", "retires_at" = "retired_at";
ALTER TABLE "signing_keys" ALTER COLUMN "activates_at" SET NOT NULL;

DROP INDEX "signing_keys_one_active";
ALTER TABLE "signing_keys" DROP COLUMN "retired_at",
DROP COLUMN "state";

-- Hand-written (Prisma does not model CHECK constraints): a wrapped key always
-- names its KEK, and no key is without its private part.
ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_wrapped_with_kek" CHECK (("wrapped_private_key" IS NULL) = ("kek_id" IS NULL)),
ADD CONSTRAINT "signing_keys_private_part" CHECK ("wrapped_private_key" IS NOT NULL OR "private_jwk" IS NOT NULL);

-- Key publications and revocations are events too (the feed carries them).
ALTER TABLE "revocation_events" ADD COLUMN     "key_id" TEXT;
