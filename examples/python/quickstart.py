"""session-authority from Python: the calls a service makes, end to end.

Run against a server (`npm start` in the repository) with Debian's grpcio and
protobuf (`apt-get install python3-grpcio python3-protobuf`):

    PYTHONPATH=clients/python/src /usr/bin/python3 examples/python/quickstart.py

SESSION_AUTHORITY_TARGET (default 127.0.0.1:50051) and SESSION_AUTHORITY_API_KEY
(sent as `authorization: Bearer …` when set) choose the server and the caller.
"""

import json
import os
import pathlib
import queue
import sys
import threading

import grpc

from google.rpc import error_details_pb2, status_pb2
from sessionauthority.v1 import session_service_pb2 as sessions
from sessionauthority.v1 import session_service_pb2_grpc as session_grpc
from sessionauthority.v1 import token_service_pb2 as tokens
from sessionauthority.v1 import token_service_pb2_grpc as token_grpc

SERVICE_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "clients" / "service-config.json"
CLIENT = {"user_agent": "quickstart/1.0 (python)", "ip_address": "203.0.113.7"}


def error_reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call: in the google.rpc.Status of the trailers."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def main() -> int:
    target = os.environ.get("SESSION_AUTHORITY_TARGET", "127.0.0.1:50051")
    api_key = os.environ.get("SESSION_AUTHORITY_API_KEY", "")
    metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
    channel = grpc.insecure_channel(
        target,
        options=[("grpc.service_config", SERVICE_CONFIG.read_text()), ("grpc.enable_retries", 1)],
    )
    session_service = session_grpc.SessionServiceStub(channel)
    token_service = token_grpc.TokenServiceStub(channel)
    user = f"alice-py-{os.getpid()}"

    # 1. Log a user in (after your service checked the password).
    login = session_service.CreateSession(sessions.CreateSessionRequest(user_id=user, device_name="laptop", **CLIENT), metadata=metadata)
    session_id = login.session.session_id
    print(f"login: session {session_id} for {user}")

    # 2. Refresh, then retry the same refresh as a client whose answer was lost:
    #    inside the grace window the same caller and client get the same successor.
    first = token_service.RefreshTokens(tokens.RefreshTokensRequest(refresh_token=login.tokens.refresh_token, **CLIENT), metadata=metadata)
    retry = token_service.RefreshTokens(tokens.RefreshTokensRequest(refresh_token=login.tokens.refresh_token, **CLIENT), metadata=metadata)
    print(f"refresh: new pair, refresh token changed: {first.tokens.refresh_token != login.tokens.refresh_token}")
    print(f"refresh retried inside the grace window: same successor: {retry.tokens.refresh_token == first.tokens.refresh_token}")

    # 3. Verify an access token (resource servers can also verify locally from the JWKS).
    claims = token_service.VerifyAccessToken(tokens.VerifyAccessTokenRequest(access_token=first.tokens.access_token), metadata=metadata).claims
    print(f"verify: user {claims.user_id}, session {claims.session_id}")

    # 4. List the user's sessions.
    listed = session_service.ListSessions(sessions.ListSessionsRequest(user_id=user), metadata=metadata)
    print(f"list: {len(listed.sessions)} active session(s)")

    # 5. Errors carry a google.rpc.ErrorInfo whose reason is what to branch on.
    try:
        token_service.RefreshTokens(tokens.RefreshTokensRequest(refresh_token="sa_rt_not-a-real-token"), metadata=metadata)
    except grpc.RpcError as error:
        print(f"error: {error.code().name} with reason {error_reason(error)}")

    # 6. Watch revocations (from now), then revoke: the event arrives on the stream.
    events: "queue.Queue[tokens.RevocationEvent]" = queue.Queue()
    stream = token_service.WatchRevocations(tokens.WatchRevocationsRequest(), metadata=metadata)
    watching = threading.Event()

    def follow() -> None:
        try:
            for message in stream:
                if message.HasField("heartbeat"):
                    watching.set()
                elif message.event.session_id == session_id:
                    events.put(message.event)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise

    threading.Thread(target=follow, daemon=True).start()
    # The first heartbeat comes once the stream is current: from then on nothing is missed.
    if not watching.wait(timeout=10):
        print("watch: no heartbeat within 10 s", file=sys.stderr)
        return 1
    session_service.RevokeSession(sessions.RevokeSessionRequest(session_id=session_id, reason="logout"), metadata=metadata)
    event = events.get(timeout=10)
    print(f"watch: {tokens.RevocationEventKind.Name(event.kind)} for session {event.session_id}, reason {event.reason}")
    stream.cancel()

    # 7. The revoked session's access token no longer verifies.
    try:
        token_service.VerifyAccessToken(tokens.VerifyAccessTokenRequest(access_token=first.tokens.access_token), metadata=metadata)
        print("revoke: the access token still verifies", file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print(f"revoke: verify now fails with {error.code().name} / {error_reason(error)}")
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
