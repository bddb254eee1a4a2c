-- CreateIndex
CREATE INDEX "sessions_org_created_idx" ON "sessions"("active_org_id", "created_at" DESC);
