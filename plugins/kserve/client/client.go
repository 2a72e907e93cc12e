// Package client is a small Go client of the Open Inference Protocol's gRPC binding (KServe V2, as clipeval serve,
// KServe and NVIDIA Triton serve it): it dials a server with raised message limits, optionally over TLS and with a
// bearer token, and makes the metadata and inference calls the kserve backend needs, each error saying which server
// and call failed and what to check.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// DefaultMaxMessageBytes is the message limit either way when Config leaves it 0: sdk.MaxMessageBytes (256 MiB),
// as clipeval serve's default --max-message-mb, far above gRPC's 4 MiB default (a batch of 32 BiomedCLIP images is
// 19 MB of pixels).
const DefaultMaxMessageBytes = sdk.MaxMessageBytes

// maxCAFileBytes is the largest CA bundle read (16 MiB; Debian's whole bundle is about 200 KB).
const maxCAFileBytes = 16 << 20

// Config says how to reach a server.
type Config struct {
	// Address is the server's gRPC address, HOST:PORT.
	Address string
	// TLS dials with TLS, trusting the system's roots or, when set, CAFile's certificates.
	TLS bool
	// CAFile is a PEM file of the certificates to trust; it implies TLS.
	CAFile string
	// Token, when set, travels as the `authorization: Bearer TOKEN` metadata of every call.
	Token string
	// MaxMessageBytes bounds a message either way (0: DefaultMaxMessageBytes).
	MaxMessageBytes int
}

// Client is a connection to one inference server. It is safe for concurrent use.
type Client struct {
	addr    string
	token   string
	max     int
	tls     bool
	conn    *grpc.ClientConn
	service inferencepb.GRPCInferenceServiceClient
}

// Dial returns a client of the server cfg names. It does not connect yet: the first call does (and reports a server
// it cannot reach).
func Dial(cfg Config) (*Client, error) {
	if err := CheckAddress(cfg.Address); err != nil {
		return nil, err
	}
	max := cfg.MaxMessageBytes
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	creds := insecure.NewCredentials()
	useTLS := cfg.TLS || cfg.CAFile != ""
	if useTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := sdk.ReadFileAtMost(cfg.CAFile, maxCAFileBytes)
			if err != nil {
				return nil, fmt.Errorf("the CA certificates to trust: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("the CA certificates to trust: %s holds no PEM certificate (give the server certificate's issuer, or the certificate itself when it is self-signed)", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(cfg.Address, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(max), grpc.MaxCallSendMsgSize(max)))
	if err != nil {
		return nil, fmt.Errorf("inference server %s: %w", cfg.Address, err)
	}
	return &Client{addr: cfg.Address, token: cfg.Token, max: max, tls: useTLS, conn: conn,
		service: inferencepb.NewGRPCInferenceServiceClient(conn)}, nil
}

// CheckAddress checks that addr is HOST:PORT, as gRPC dials it (no scheme: TLS is an option of its own).
func CheckAddress(addr string) error {
	switch {
	case addr == "":
		return errors.New("no server address: give the server's gRPC address as HOST:PORT (clipeval serve's --listen; Triton's gRPC port is 8001)")
	case strings.Contains(addr, "://"):
		return fmt.Errorf("server address %q has a scheme: give HOST:PORT only (and tls: true for an https/grpcs server)", addr)
	case !strings.Contains(addr, ":"):
		return fmt.Errorf("server address %q has no port: give HOST:PORT (clipeval serve listens on 8001 by default, as Triton's gRPC endpoint does)", addr)
	}
	return nil
}

// Address returns the server's address.
func (c *Client) Address() string { return c.addr }

// MaxMessageBytes returns the message limit either way.
func (c *Client) MaxMessageBytes() int { return c.max }

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

// outgoing adds the bearer token, when there is one, to a call's metadata.
func (c *Client) outgoing(ctx context.Context) context.Context {
	if c.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
}

// ServerMetadata asks the server for its name, version and extensions.
func (c *Client) ServerMetadata(ctx context.Context) (*inferencepb.ServerMetadataResponse, error) {
	r, err := c.service.ServerMetadata(c.outgoing(ctx), &inferencepb.ServerMetadataRequest{})
	return r, c.wrap(err, "ServerMetadata", "")
}

// ModelMetadata asks the server for a model's versions, platform, inputs and outputs; version "" lets the server
// choose.
func (c *Client) ModelMetadata(ctx context.Context, name, version string) (*inferencepb.ModelMetadataResponse, error) {
	req := &inferencepb.ModelMetadataRequest{Name: name}
	if version != "" {
		req.Version = &version
	}
	r, err := c.service.ModelMetadata(c.outgoing(ctx), req)
	return r, c.wrap(err, "ModelMetadata", name)
}

// Infer runs the model req names on req's inputs.
func (c *Client) Infer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	r, err := c.service.ModelInfer(c.outgoing(ctx), req)
	return r, c.wrap(err, "ModelInfer", req.GetModelName())
}

// Error is a failed call: the server's gRPC status code, with the call, the model and what to check. It does not
// wrap the status itself, so that a plugin returning it does not answer its own call with the server's code (an
// unreachable server's Unavailable is not a plugin that died).
type Error struct {
	// Code is the gRPC status code the call ended with.
	Code codes.Code
	msg  string
}

// Error says which server, call and model failed, why and what to check.
func (e *Error) Error() string { return e.msg }

// wrap names the server, the call and the model in err and adds what to check for the common failures.
func (c *Client) wrap(err error, call, model string) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	what := call
	if model != "" {
		what += " " + model
	}
	msg := fmt.Sprintf("inference server %s: %s: %s: %s", c.addr, what, st.Code(), st.Message())
	switch st.Code() {
	case codes.Unavailable:
		if c.tls {
			msg += " (is the server running and serving TLS there? check the url and ca_file options)"
		} else {
			msg += " (is the server running there, without TLS? check the url option; a TLS server needs tls: true)"
		}
	case codes.Unauthenticated:
		msg += " (give the server's bearer token with the token or token_file option)"
	case codes.NotFound:
		msg += " (check the model_name and model_version options: the server must have the models NAME-image and NAME-text)"
	case codes.ResourceExhausted:
		msg += fmt.Sprintf(" (a message passed a limit: this client's is %d MiB (the max_message_mb option), the server's its own; lower the batch size or max_batch, or raise both)", c.max>>20)
	}
	return &Error{Code: st.Code(), msg: msg}
}

// CodeOf returns the gRPC status code of a call's error (codes.OK for nil, codes.Unknown for an error that is not a
// call's).
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return status.Code(err)
}

// ReadToken reads a bearer token from a file: its content without surrounding white space (a trailing newline).
func ReadToken(path string) (string, error) {
	raw, err := sdk.ReadFileAtMost(path, 64<<10)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s holds white space inside the token: write the token alone", path)
	}
	return tok, nil
}
