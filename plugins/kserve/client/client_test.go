package client

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
)

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		addr, wantErr string
	}{
		{"127.0.0.1:8001", ""},
		{"gpu-box.lab:443", ""},
		{"[::1]:8001", ""},
		{"", "no server address"},
		{"https://gpu-box:443", "has a scheme: give HOST:PORT only (and tls: true"},
		{"gpu-box", "has no port"},
	}
	for _, tc := range tests {
		err := CheckAddress(tc.addr)
		if tc.wantErr == "" {
			assert.NoError(t, err, tc.addr)
			continue
		}
		assert.ErrorContains(t, err, tc.wantErr, tc.addr)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tests := []struct {
		name, path, want, wantErr string
	}{
		{"a trailing newline", write("a", "abc\n"), "abc", ""},
		{"white space around", write("b", " \tabc  \n\n"), "abc", ""},
		{"empty", write("c", "\n"), "", "is empty"},
		{"two words", write("d", "abc def\n"), "", "white space inside the token"},
		{"missing", filepath.Join(dir, "nope"), "", "token file: open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadToken(tc.path)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDialRefusesABadCAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, []byte("not a certificate"), 0o644))
	_, err := Dial(Config{Address: "127.0.0.1:1", CAFile: p})
	assert.ErrorContains(t, err, "holds no PEM certificate")
	_, err = Dial(Config{Address: "127.0.0.1:1", CAFile: filepath.Join(t.TempDir(), "nope.pem")})
	assert.ErrorContains(t, err, "the CA certificates to trust: open")
}

// echo answers ServerMetadata with the authorization it got, and fails ModelMetadata with the status code its
// name gives as a number.
type echo struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
}

func (echo) ServerMetadata(ctx context.Context, _ *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return &inferencepb.ServerMetadataResponse{Name: "echo", Extensions: md.Get("authorization")}, nil
}

func (echo) ModelMetadata(_ context.Context, req *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	n, err := strconv.Atoi(req.GetName())
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return nil, status.Error(codes.Code(n), "as asked")
}

// TestCalls checks that the token travels as `authorization: Bearer TOKEN` and that failed calls name the server,
// the call and the model and say what to check.
func TestCalls(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	inferencepb.RegisterGRPCInferenceServiceServer(g, echo{})
	go g.Serve(lis)
	defer g.Stop()
	addr := lis.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, tc := range []struct{ token, want string }{{"", ""}, {"t0k", "Bearer t0k"}} {
		c, err := Dial(Config{Address: addr, Token: tc.token})
		require.NoError(t, err)
		r, err := c.ServerMetadata(ctx)
		require.NoError(t, err)
		if tc.want == "" {
			assert.Empty(t, r.Extensions)
		} else {
			assert.Equal(t, []string{tc.want}, r.Extensions)
		}
		require.NoError(t, c.Close())
	}

	c, err := Dial(Config{Address: addr})
	require.NoError(t, err)
	defer c.Close()
	tests := []struct {
		code codes.Code
		want string
	}{
		{codes.Unauthenticated, "inference server " + addr + ": ModelMetadata 16: Unauthenticated: as asked (give the server's bearer token"},
		{codes.NotFound, "ModelMetadata 5: NotFound: as asked (check the model_name and model_version options"},
		{codes.ResourceExhausted, "(a message passed a limit: this client's is 256 MiB"},
		{codes.Internal, "ModelMetadata 13: Internal: as asked"},
	}
	for _, tc := range tests {
		_, err := c.ModelMetadata(ctx, strconv.Itoa(int(tc.code)), "")
		assert.ErrorContains(t, err, tc.want)
		assert.Equal(t, tc.code, CodeOf(err))
		var e *Error
		assert.True(t, errors.As(err, &e))
	}

	dead, err := Dial(Config{Address: "127.0.0.1:1"})
	require.NoError(t, err)
	defer dead.Close()
	_, err = dead.ServerMetadata(ctx)
	assert.Equal(t, codes.Unavailable, CodeOf(err))
	assert.ErrorContains(t, err, "is the server running there, without TLS? check the url option; a TLS server needs tls: true")
}
