import { afterEach, inject } from "vitest";
import { connectClients, type Clients } from "./clients.js";
import { createFreshDatabase, type FreshDatabase } from "./fresh-database.js";
import { runCli, type ServiceProcess } from "./service-process.js";

export interface Replicas {
  /** A new empty database on the test PostgreSQL; dropped after the test. */
  freshDatabase(): Promise<string>;
  /** Starts `serve` in its own process and connects clients; stopped after the test. */
  serve(env: Record<string, string>): Promise<Clients>;
  readonly servers: ServiceProcess[];
  readonly clients: Clients[];
}

/** Server processes on fresh databases for one test file, all stopped (SIGTERM) and dropped after each test. */
export function useReplicas(): Replicas {
  const databases: FreshDatabase[] = [];
  const servers: ServiceProcess[] = [];
  const clients: Clients[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers) server.child.kill("SIGTERM");
    await Promise.all(servers.splice(0).map((server) => server.exited));
    await Promise.all(databases.splice(0).map((database) => database.drop()));
  });
  return {
    servers,
    clients,
    async freshDatabase() {
      const database = await createFreshDatabase(inject("postgresAdminUrl"));
      databases.push(database);
      return database.url;
    },
    async serve(env) {
      const server = runCli("serve", env);
      servers.push(server);
      const client = connectClients((await server.serving).grpcPort);
      clients.push(client);
      return client;
    },
  };
}
