-- DropIndex
DROP INDEX "sessions_revoked_at_idx";

-- DropIndex
DROP INDEX "users_version_bumped_idx";

-- AlterTable
ALTER TABLE "revocation_events" ADD COLUMN     "org_ids" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "org_ids" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateIndex
CREATE INDEX "sessions_revoked_at_idx" ON "sessions"("revoked_at", "id");

-- CreateIndex
CREATE INDEX "users_version_bumped_idx" ON "users"("token_version_bumped_at", "user_id");

-- Hand-written (Prisma does not model triggers): a session remembers every
-- organisation it has acted for, whichever code path sets active_org_id (a
-- refresh that switches it, UpdateSession, an import). Access tokens issued
-- before a switch still carry the old organisation until they expire, so a
-- later revocation must reach the watchers and snapshots of each one; a
-- trigger keeps that true for writers that do not know about it.
CREATE FUNCTION "remember_session_org"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.active_org_id IS NOT NULL AND NOT (NEW.active_org_id = ANY(COALESCE(NEW.org_ids, ARRAY[]::text[]))) THEN
    NEW.org_ids := array_append(COALESCE(NEW.org_ids, ARRAY[]::text[]), NEW.active_org_id);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER "sessions_remember_org" BEFORE INSERT OR UPDATE OF "active_org_id", "org_ids" ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "remember_session_org"();

-- Rows from before: a session's current organisation is the only one known,
-- and so is an event's.
UPDATE "sessions" SET "org_ids" = ARRAY["active_org_id"] WHERE "active_org_id" IS NOT NULL;
UPDATE "revocation_events" SET "org_ids" = ARRAY["org_id"] WHERE "org_id" IS NOT NULL;
