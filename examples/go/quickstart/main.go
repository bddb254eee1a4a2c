// session-authority from Go: the calls a service makes, end to end.
//
// With Debian's Go packages (golang-go golang-google-grpc-dev
// golang-google-protobuf-dev golang-google-genproto-dev) and no network, in
// GOPATH mode, with this repository's clients/go at
// $GOPATH/src/session-authority/clients/go:
//
//	GO111MODULE=off GOPATH=$HOME/go:/usr/share/gocode go run ./examples/go/quickstart
//
// from the repository root (it reads clients/service-config.json).
//
// SESSION_AUTHORITY_TARGET (default 127.0.0.1:50051) and
// SESSION_AUTHORITY_API_KEY (sent as "authorization: Bearer …" when set)
// choose the server and the caller.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "session-authority/clients/go/sessionauthority/v1"
)

const userAgent, ipAddress = "quickstart/1.0 (go)", "203.0.113.8"

// errorReason is the ErrorInfo reason of a failed call, from the status details.
func errorReason(err error) (codes.Code, string) {
	st := status.Convert(err)
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return st.Code(), info.GetReason()
		}
	}
	return st.Code(), ""
}

// serviceConfig is clients/service-config.json (run from the repository root,
// or name it in SESSION_AUTHORITY_SERVICE_CONFIG): timeouts and safe retries.
func serviceConfig() (string, error) {
	file := os.Getenv("SESSION_AUTHORITY_SERVICE_CONFIG")
	if file == "" {
		file = filepath.Join("clients", "service-config.json")
	}
	text, err := os.ReadFile(file)
	return string(text), err
}

func run() error {
	target := os.Getenv("SESSION_AUTHORITY_TARGET")
	if target == "" {
		target = "127.0.0.1:50051"
	}
	ctx := context.Background()
	if key := os.Getenv("SESSION_AUTHORITY_API_KEY"); key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	config, err := serviceConfig()
	if err != nil {
		return err
	}
	conn, err := grpc.Dial(target, grpc.WithInsecure(), grpc.WithDefaultServiceConfig(config))
	if err != nil {
		return err
	}
	defer conn.Close()
	sessions := v1.NewSessionServiceClient(conn)
	tokens := v1.NewTokenServiceClient(conn)
	user := fmt.Sprintf("alice-go-%d", os.Getpid())

	// 1. Log a user in (after your service checked the password).
	login, err := sessions.CreateSession(ctx, &v1.CreateSessionRequest{UserId: user, DeviceName: "laptop", UserAgent: userAgent, IpAddress: ipAddress})
	if err != nil {
		return err
	}
	sessionID := login.GetSession().GetSessionId()
	fmt.Printf("login: session %s for %s\n", sessionID, user)

	// 2. Refresh, then retry the same refresh as a client whose answer was lost:
	//    inside the grace window the same caller and client get the same successor.
	refresh := &v1.RefreshTokensRequest{RefreshToken: login.GetTokens().GetRefreshToken(), UserAgent: userAgent, IpAddress: ipAddress}
	first, err := tokens.RefreshTokens(ctx, refresh)
	if err != nil {
		return err
	}
	retry, err := tokens.RefreshTokens(ctx, refresh)
	if err != nil {
		return err
	}
	fmt.Printf("refresh: new pair, refresh token changed: %t\n", first.GetTokens().GetRefreshToken() != refresh.RefreshToken)
	fmt.Printf("refresh retried inside the grace window: same successor: %t\n", retry.GetTokens().GetRefreshToken() == first.GetTokens().GetRefreshToken())

	// 3. Verify an access token (resource servers can also verify locally from the JWKS).
	verified, err := tokens.VerifyAccessToken(ctx, &v1.VerifyAccessTokenRequest{AccessToken: first.GetTokens().GetAccessToken()})
	if err != nil {
		return err
	}
	fmt.Printf("verify: user %s, session %s\n", verified.GetClaims().GetUserId(), verified.GetClaims().GetSessionId())

	// 4. List the user's sessions.
	listed, err := sessions.ListSessions(ctx, &v1.ListSessionsRequest{UserId: user})
	if err != nil {
		return err
	}
	fmt.Printf("list: %d active session(s)\n", len(listed.GetSessions()))

	// 5. Errors carry a google.rpc.ErrorInfo whose reason is what to branch on.
	if _, err := tokens.RefreshTokens(ctx, &v1.RefreshTokensRequest{RefreshToken: "sa_rt_not-a-real-token"}); err != nil {
		code, reason := errorReason(err)
		fmt.Printf("error: %s with reason %s\n", code, reason)
	}

	// 6. Watch revocations (from now), then revoke: the event arrives on the stream.
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	stream, err := tokens.WatchRevocations(watchCtx, &v1.WatchRevocationsRequest{})
	if err != nil {
		return err
	}
	// The first heartbeat comes once the stream is current: from then on nothing is missed.
	events := make(chan *v1.RevocationEvent, 16)
	current := make(chan struct{})
	go func() {
		defer close(events)
		heartbeat := false
		for {
			message, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) && status.Code(err) != codes.Canceled {
					fmt.Fprintln(os.Stderr, "watch:", err)
				}
				return
			}
			if message.GetHeartbeat() != nil && !heartbeat {
				heartbeat = true
				close(current)
			}
			if event := message.GetEvent(); event != nil && event.GetSessionId() == sessionID {
				events <- event
			}
		}
	}()
	select {
	case <-current:
	case <-time.After(10 * time.Second):
		return errors.New("watch: no heartbeat within 10 s")
	}
	if _, err := sessions.RevokeSession(ctx, &v1.RevokeSessionRequest{SessionId: sessionID, Reason: "logout"}); err != nil {
		return err
	}
	select {
	case event := <-events:
		fmt.Printf("watch: %s for session %s, reason %s\n", event.GetKind(), event.GetSessionId(), event.GetReason())
	case <-time.After(10 * time.Second):
		return errors.New("watch: no revocation event within 10 s")
	}
	stopWatching()

	// 7. The revoked session's access token no longer verifies.
	if _, err := tokens.VerifyAccessToken(ctx, &v1.VerifyAccessTokenRequest{AccessToken: first.GetTokens().GetAccessToken()}); err == nil {
		return errors.New("revoke: the access token still verifies")
	} else {
		code, reason := errorReason(err)
		fmt.Printf("revoke: verify now fails with %s / %s\n", code, reason)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
