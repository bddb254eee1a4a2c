-- AlterTable
ALTER TABLE "global_state" ADD COLUMN     "events_pruned_id" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "events_pruned_txid" BIGINT NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "revocation_events" ADD COLUMN     "txid" BIGINT NOT NULL DEFAULT (pg_current_xact_id())::text::bigint;

-- CreateIndex
CREATE INDEX "revocation_events_cursor_idx" ON "revocation_events"("txid", "id");

-- CreateIndex
CREATE INDEX "sessions_revoked_at_idx" ON "sessions"("revoked_at");

-- CreateIndex
CREATE INDEX "users_version_bumped_idx" ON "users"("token_version_bumped_at");

-- Hand-written (Prisma does not model triggers): wake every listener when
-- events commit. NOTIFY is delivered only at commit and only once per
-- transaction and payload, so a transaction writing many events wakes
-- readers once, and a rolled-back one never does. Readers then read the feed;
-- the notification itself carries nothing.
CREATE FUNCTION "notify_revocation_events"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('revocation_events', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER "revocation_events_notify" AFTER INSERT ON "revocation_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "notify_revocation_events"();
