-- CreateTable
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "user_id" TEXT,
    "session_id" UUID,
    "org_id" TEXT,
    "key_id" TEXT,
    "version" BIGINT,
    "method" TEXT,
    "peer" TEXT,
    "count" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "audit_events_occurred_idx" ON "audit_events"("occurred_at");

-- CreateIndex
CREATE INDEX "audit_events_user_idx" ON "audit_events"("user_id", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_events_actor_idx" ON "audit_events"("actor", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_events_action_idx" ON "audit_events"("action", "occurred_at");
