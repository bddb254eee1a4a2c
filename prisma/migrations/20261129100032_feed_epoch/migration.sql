-- AlterTable
ALTER TABLE "global_state" ADD COLUMN     "feed_epoch" INTEGER NOT NULL DEFAULT 0;
