import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

export interface HealthClient extends grpc.Client {
  Check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
}

const definition = protoLoader.loadSync(protoPath, { enums: String });
const { grpc: ns } = grpc.loadPackageDefinition(definition) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
};

export function healthClient(port: number): HealthClient {
  return new ns.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export function check(client: HealthClient, service = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, (error, response) => {
      if (error) reject(error);
      else resolve(response?.status ?? "");
    });
  });
}

/** grpc.health.v1.Health/Check on a new connection, as a mesh or Kubernetes probe sends it. */
export async function healthCheck(port: number, service = ""): Promise<string> {
  const client = healthClient(port);
  try {
    return await check(client, service);
  } finally {
    client.close();
  }
}
