import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

interface HealthClient extends grpc.Client {
  Check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
}

const definition = protoLoader.loadSync(protoPath, { enums: String });
const { grpc: ns } = grpc.loadPackageDefinition(definition) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
};

/** grpc.health.v1.Health/Check, as a mesh or Kubernetes probe would send it. */
export function healthCheck(port: number, service = ""): Promise<string> {
  const client = new ns.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Check({ service }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response?.status ?? "");
    });
  });
}
