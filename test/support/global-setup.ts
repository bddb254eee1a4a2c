import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

// Vitest runs this once per project in the main process; each project gets
// its own server (own port, own temp folder), so projects never share state.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env['TEST_DATABASE_URL'];
  if (external !== undefined && external !== '') {
    project.provide('postgresAdminUrl', external);
    return async () => {};
  }

  const postgres = await startEmbeddedPostgres();
  project.provide('postgresAdminUrl', postgres.url);
  return () => postgres.stop();
}
