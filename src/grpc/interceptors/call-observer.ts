import * as grpc from "@grpc/grpc-js";

/** The status a server call ends with, as grpc-js hands it to a responder. */
type FinalStatus = Parameters<Parameters<grpc.ResponderBuilder["withSendStatus"]>[0]>[0];

export interface CallObservation {
  /** The request metadata as it arrived. */
  onMetadata?(metadata: grpc.Metadata): void;
  /**
   * The final status, and the metadata object as the inner interceptors left
   * it (the caller check marks the verified caller on that same object).
   */
  onStatus(status: FinalStatus, received: grpc.Metadata | undefined): void;
  /** The response headers on their way out (only when the call sends any before its status). */
  onSendMetadata?(metadata: grpc.Metadata): void;
}

/** An interceptor that only watches: each call's metadata on the way in and its status on the way out. */
export function callObserver(begin: (path: string, call: grpc.ServerInterceptingCallInterface) => CallObservation): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const observation = begin(methodDescriptor.path, call);
    let received: grpc.Metadata | undefined;
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        observation.onMetadata?.(metadata);
        received = metadata;
        next(metadata);
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMetadata((metadata, next) => {
        observation.onSendMetadata?.(metadata);
        next(metadata);
      })
      .withSendStatus((status, next) => {
        observation.onStatus(status, received);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
