package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/clipeval/clipeval/harness/inferserver"
	"github.com/clipeval/clipeval/harness/pluginhost"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// serveStopGrace is how long serve lets calls in flight finish once it is stopped, before it ends them.
const serveStopGrace = 5 * time.Second

// maxServeMessageMB is the largest --max-message-mb: gRPC sizes messages in int32 bytes.
const maxServeMessageMB = 2047

// maxTokenFileBytes is the largest --token-file read.
const maxTokenFileBytes = 64 << 10

func cmdServe(ctx context.Context, fs *flag.FlagSet, args []string, _, stderr io.Writer) error {
	mf := &modelFlags{options: optionFlags{}, batch: 1}
	fs.StringVar(&mf.dir, "model", "", "the model folder `DIR` to serve (required)")
	fs.StringVar(&mf.backend, "backend", "onnx", "run the towers with the model backend plugin `NAME`")
	fs.StringVar(&mf.pluginDir, "plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	fs.Var(mf.options, "option", "backend option `KEY=VALUE` (repeatable), e.g. execution_provider=cuda, text_padding=full")
	listen := fs.String("listen", "127.0.0.1:8001", "listen on `HOST:PORT`; 0.0.0.0:PORT listens on every interface, port 0 on a free port (printed)")
	name := fs.String("name", "", "serve the models `NAME`-image and NAME-text (default: the model folder's base name)")
	certFile := fs.String("tls-cert", "", "serve TLS with the PEM certificate (chain) `FILE` (with --tls-key)")
	keyFile := fs.String("tls-key", "", "the PEM private key `FILE` of --tls-cert")
	token := fs.String("token", "", "take only calls with the metadata authorization: Bearer `TOKEN`")
	tokenFile := fs.String("token-file", "", "like --token, with the token read from `FILE` (white space around it ignored)")
	maxMB := fs.Int("max-message-mb", sdk.MaxMessageBytes>>20, "take and send gRPC messages up to `N` MiB")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return badInput("serve: unexpected arguments %q", pos)
	case mf.dir == "":
		return badInput("serve: --model DIR is required")
	case *listen == "":
		return badInput("serve: --listen HOST:PORT is empty")
	case (*certFile == "") != (*keyFile == ""):
		return badInput("serve: --tls-cert and --tls-key go together: give both (a certificate and its private key) or neither")
	case *token != "" && *tokenFile != "":
		return badInput("serve: give the token once: --token or --token-file, not both")
	case *maxMB < 1 || *maxMB > maxServeMessageMB:
		return badInput("serve: --max-message-mb %d: want 1 to %d", *maxMB, maxServeMessageMB)
	}
	if *name == "" {
		abs, err := filepath.Abs(mf.dir)
		if err != nil {
			return usageError{err}
		}
		*name = filepath.Base(abs)
	}
	if strings.ContainsAny(*name, "/ \t\r\n") {
		return badInput("serve: --name %q: a model name has no slash or white space", *name)
	}
	secret := *token
	if *tokenFile != "" {
		raw, err := sdk.ReadFileAtMost(*tokenFile, maxTokenFileBytes)
		if err != nil {
			return usageError{fmt.Errorf("serve: --token-file: %w", err)}
		}
		if secret = strings.TrimSpace(string(raw)); secret == "" {
			return badInput("serve: --token-file %s is empty", *tokenFile)
		}
	}
	if strings.ContainsAny(secret, " \t\r\n") {
		return badInput("serve: the token holds white space; give the token alone")
	}
	var opts []grpc.ServerOption
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return badInput("serve: --tls-cert %s, --tls-key %s: %v", *certFile, *keyFile, err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	}

	host, m, ref, err := mf.open(ctx, "serve", stderr)
	if err != nil {
		return err
	}
	defer host.Close()
	served, err := inferserver.ModelOf(ctx, m, ref, *name)
	if sdk.IsUnimplemented(err) {
		return badInput("serve: backend %s does not run its towers on given inputs (EncodePixels, EncodeTokens: sdk.InputModel); serve needs one that does, such as onnx", mf.backend)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := inferserver.New(served, inferserver.Config{ServerName: "clipeval", ServerVersion: version, Token: secret,
		MaxMessageBytes: *maxMB << 20, TowerMessageBytes: sdk.MaxMessageBytes - 1<<20})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return badInput("serve: --listen %s: %v", *listen, err)
	}
	g := srv.GRPCServer(opts...)
	var how []string
	if *certFile != "" {
		how = append(how, "TLS")
	}
	if secret != "" {
		how = append(how, "bearer token")
		if *certFile == "" && !isLoopback(lis.Addr()) {
			fmt.Fprintf(stderr, "clipeval serve: warning: the bearer token travels in clear text without TLS; serve with --tls-cert and --tls-key beyond a trusted network\n")
		}
	}
	if len(how) == 0 {
		how = append(how, "no TLS, no token")
	}
	fmt.Fprintf(stderr, "clipeval serve: serving %s%s and %s%s (model %s, backend %s, version %s) over the Open Inference Protocol (KServe v2 gRPC, %s) on %s\n",
		*name, inferencepb.ImageSuffix, *name, inferencepb.TextSuffix, ref.Dir, mf.backend, served.Version, strings.Join(how, ", "), lis.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- g.Serve(lis) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: serving on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(serveStopGrace):
		g.Stop()
	}
	return stoppedError{kept: fmt.Sprintf("stopped serving %s on %s", *name, lis.Addr()), err: context.Cause(ctx)}
}

// isLoopback reports whether addr is a loopback address (the token stays on the machine).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
