package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/sharedtest"
	inferencepb "github.com/clipeval/clipeval/plugins/proto/inference/v2"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

var servingRE = regexp.MustCompile(`\) on (\S+)\n`)

// startServe runs `clipeval serve ARGS --listen 127.0.0.1:0` in the background, as cli runs commands, and returns
// the address it listens on; stop sends it SIGTERM (as the signal handler would) and returns its exit code and
// stderr. A test that does not call stop has it called when it ends.
func startServe(t *testing.T, args ...string) (addr string, stop func() (int, string)) {
	t.Helper()
	t.Setenv("CLIPEVAL_PLUGIN_DIR", filepath.Join(binDir, "plugins"))
	t.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(t))
	ctx, cancel := context.WithCancelCause(context.Background())
	var errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), &bytes.Buffer{}, &errOut)
	}()
	var once sync.Once
	var code int
	stop = func() (int, string) {
		once.Do(func() {
			cancel(interrupted{syscall.SIGTERM})
			code = <-done
		})
		return code, errOut.String()
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := servingRE.FindStringSubmatch(errOut.String()); m != nil {
			return m[1], stop
		}
		select {
		case c := <-done:
			done <- c
			t.Fatalf("clipeval serve exited %d before it served:\n%s", c, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clipeval serve did not start serving within 2 minutes:\n%s", errOut.String())
		}
	}
}

// embedFiles runs clipeval embed with args (images and texts, each into its own file) and returns the files' bytes.
func embedFiles(t *testing.T, images []string, texts string, args ...string) (imageNPY, textNPY []byte) {
	t.Helper()
	dir := t.TempDir()
	img, txt := filepath.Join(dir, "images.npy"), filepath.Join(dir, "texts.npy")
	code, _, errOut := cli(t, append(append([]string{"embed", "--out", img, "--quiet", "--images"}, images...), args...)...)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = cli(t, append([]string{"embed", "--out", txt, "--quiet", "--texts", texts}, args...)...)
	require.Equal(t, 0, code, errOut)
	imageNPY, err := os.ReadFile(img)
	require.NoError(t, err)
	textNPY, err = os.ReadFile(txt)
	require.NoError(t, err)
	return imageNPY, textNPY
}

// fixtureImages returns the image files of the tiny-a reference.
func fixtureImages(t *testing.T) []string {
	_, paths := referenceImages(t)
	return paths
}

// TestServeEmbeddingsEqualLocal serves the tiny BiomedCLIP fixture with a bearer token and checks that
// embeddings through clipeval serve and the kserve backend are the local onnx backend's bit for bit (the .npy
// files are equal byte for byte), images and texts, and so are a golden's inputs and outputs (Preprocess,
// Tokenize, EncodePixels, EncodeTokens); that the wire refuses a call without the token, a wrong shape and an
// unknown model with the statuses the protocol's clients expect; and that SIGTERM stops the server (143).
func TestServeEmbeddingsEqualLocal(t *testing.T) {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	const token = "s3cret-token"
	addr, stop := startServe(t, "--model", fixture, "--token", token, "--option", "logit_scale=50")
	images, texts := fixtureImages(t), referenceTexts(t)

	localImages, localTexts := embedFiles(t, images, texts, "--model", fixture, "--option", "logit_scale=50")
	remote := []string{"--backend", "kserve", "--model", fixture, "--option", "url=" + addr, "--option", "token=" + token}
	remoteImages, remoteTexts := embedFiles(t, images, texts, remote...)
	assert.True(t, bytes.Equal(localImages, remoteImages), "image embeddings through serve + kserve equal the local backend's bit for bit")
	assert.True(t, bytes.Equal(localTexts, remoteTexts), "text embeddings through serve + kserve equal the local backend's bit for bit")
	got, err := npy.Read(bytes.NewReader(remoteImages))
	require.NoError(t, err)
	assert.Equal(t, []int{len(images), 32}, got.Shape)

	t.Run("golden", func(t *testing.T) {
		dir := t.TempDir()
		local, viaServe := filepath.Join(dir, "local.npz"), filepath.Join(dir, "remote.npz")
		code, _, errOut := cli(t, append([]string{"golden", "--model", fixture, "--texts", texts, "--out", local, "--images"}, images[:3]...)...)
		require.Equal(t, 0, code, errOut)
		code, _, errOut = cli(t, append(append([]string{"golden", "--texts", texts, "--out", viaServe, "--images"}, images[:3]...), remote...)...)
		require.Equal(t, 0, code, errOut)
		want, err := npy.ReadNPZ(local)
		require.NoError(t, err)
		have, err := npy.ReadNPZ(viaServe)
		require.NoError(t, err)
		assert.Equal(t, want, have, "pixels, token ids and both towers' embeddings")
	})

	t.Run("wire", func(t *testing.T) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		c := inferencepb.NewGRPCInferenceServiceClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		name := filepath.Base(fixture)

		md, err := c.ModelMetadata(authed, &inferencepb.ModelMetadataRequest{Name: name + "-text"})
		require.NoError(t, err)
		assert.Equal(t, name+"-text", md.Name)
		require.Len(t, md.Inputs, 1)
		assert.Equal(t, "input_ids", md.Inputs[0].Name)
		assert.Equal(t, "INT64", md.Inputs[0].Datatype)
		assert.Equal(t, []int64{-1, 256}, md.Inputs[0].Shape)
		require.Len(t, md.Outputs, 1)
		assert.Equal(t, []int64{-1, 32}, md.Outputs[0].Shape)
		require.Len(t, md.Versions, 1)
		assert.Len(t, md.Versions[0], 16)
		assert.Equal(t, "bert-wordpiece", md.Properties["clipeval.tokenizer"])
		live, err := c.ServerLive(authed, &inferencepb.ServerLiveRequest{})
		require.NoError(t, err)
		assert.True(t, live.Live)

		pixels := func(n, size int64) *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: name + "-image",
				Inputs:           []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "pixels", Datatype: "FP32", Shape: []int64{n, 3, size, size}}},
				RawInputContents: [][]byte{make([]byte, 4*n*3*size*size)}}
		}
		typed := &inferencepb.ModelInferRequest{ModelName: name + "-text", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
			Name: "input_ids", Datatype: "INT64", Shape: []int64{1, 256}, Contents: &inferencepb.InferTensorContents{Int64Contents: make([]int64, 256)}}}}
		resp, err := c.ModelInfer(authed, typed)
		require.NoError(t, err, "typed contents")
		require.Len(t, resp.RawOutputContents, 1)
		assert.Len(t, resp.RawOutputContents[0], 4*32)
		assert.Equal(t, []int64{1, 32}, resp.Outputs[0].Shape)

		tests := []struct {
			name     string
			ctx      context.Context
			call     func(context.Context) error
			wantCode codes.Code
			wantMsg  string
		}{
			{"no token", ctx, func(ctx context.Context) error {
				_, err := c.ModelInfer(ctx, pixels(1, 224))
				return err
			}, codes.Unauthenticated, "bearer token"},
			{"no token for metadata either", ctx, func(ctx context.Context) error {
				_, err := c.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
				return err
			}, codes.Unauthenticated, "bearer token"},
			{"wrong token", metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer nope"), func(ctx context.Context) error {
				_, err := c.ModelInfer(ctx, pixels(1, 224))
				return err
			}, codes.Unauthenticated, "not this server's"},
			{"wrong image size", authed, func(ctx context.Context) error {
				_, err := c.ModelInfer(ctx, pixels(1, 96))
				return err
			}, codes.InvalidArgument, "input pixels has shape [1 3 96 96]: dimension 2 is 96, not 224"},
			{"raw contents of the wrong size", authed, func(ctx context.Context) error {
				req := pixels(2, 224)
				req.RawInputContents[0] = req.RawInputContents[0][:100]
				_, err := c.ModelInfer(ctx, req)
				return err
			}, codes.InvalidArgument, "raw contents are 100 bytes; 301056 FP32 values are 1204224"},
			{"wrong data type", authed, func(ctx context.Context) error {
				req := pixels(1, 224)
				req.Inputs[0].Datatype = "FP16"
				_, err := c.ModelInfer(ctx, req)
				return err
			}, codes.InvalidArgument, "input pixels is FP16"},
			{"negative token id", authed, func(ctx context.Context) error {
				bad := &inferencepb.ModelInferRequest{ModelName: name + "-text", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
					Name: "input_ids", Datatype: "INT64", Shape: []int64{1, 256}}}, RawInputContents: [][]byte{inferencepb.RawInt64(append([]int64{-3}, make([]int64, 255)...))}}
				_, err := c.ModelInfer(ctx, bad)
				return err
			}, codes.InvalidArgument, "token id -3 at row 0, position 0 is negative"},
			{"unknown model", authed, func(ctx context.Context) error {
				_, err := c.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "nope"})
				return err
			}, codes.NotFound, `no model "nope" here: this server serves ` + name + "-image and " + name + "-text"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call(tc.ctx)
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, status.Code(err), "%v", err)
				assert.Contains(t, status.Convert(err).Message(), tc.wantMsg)
			})
		}
	})

	t.Run("kserve without the token", func(t *testing.T) {
		code, _, errOut := cli(t, "embed", "--backend", "kserve", "--model", fixture, "--option", "url="+addr, "--texts", texts, "--out", filepath.Join(t.TempDir(), "x.npy"))
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "Unauthenticated")
		assert.Contains(t, errOut, "token or token_file option")
	})

	code, errOut := stop()
	assert.Equal(t, 143, code, errOut)
	assert.Contains(t, errOut, "stopped serving biomedclip on "+addr)
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key into dir and returns their paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clipeval test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// TestServeTLS serves the fixture over TLS with a self-signed certificate and a token file, and embeds the texts
// through the kserve backend trusting the certificate (ca_file): the local backend's embeddings, bit for bit. A
// client that dials without TLS is refused.
func TestServeTLS(t *testing.T) {
	fixture := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tls-token\n"), 0o600))
	addr, stop := startServe(t, "--model", fixture, "--tls-cert", cert, "--tls-key", key, "--token-file", tokenFile)
	texts := referenceTexts(t)
	out := func(name string) string { return filepath.Join(t.TempDir(), name) }

	local, remote := out("local.npy"), out("remote.npy")
	code, _, errOut := cli(t, "embed", "--model", fixture, "--texts", texts, "--out", local, "--quiet")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = cli(t, "embed", "--backend", "kserve", "--model", fixture, "--texts", texts, "--out", remote, "--quiet",
		"--option", "url="+addr, "--option", "ca_file="+cert, "--option", "token_file="+tokenFile)
	require.Equal(t, 0, code, errOut)
	want, err := os.ReadFile(local)
	require.NoError(t, err)
	got, err := os.ReadFile(remote)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "text embeddings over TLS equal the local backend's bit for bit")

	code, _, errOut = cli(t, "embed", "--backend", "kserve", "--model", fixture, "--texts", texts, "--out", out("plain.npy"),
		"--option", "url="+addr, "--option", "token_file="+tokenFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "a TLS server needs tls: true")
	code, errOut = stop()
	assert.Equal(t, 143, code, errOut)
}

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"serve"}, "serve: --model DIR is required"},
		{"certificate without key", []string{"serve", "--model", dir, "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"two tokens", []string{"serve", "--model", dir, "--token", "a", "--token-file", "f"}, "give the token once"},
		{"no message size", []string{"serve", "--model", dir, "--max-message-mb", "0"}, "--max-message-mb 0: want 1 to 2047"},
		{"missing token file", []string{"serve", "--model", dir, "--token-file", filepath.Join(dir, "nope")}, "--token-file"},
		{"unreadable certificate", []string{"serve", "--model", dir, "--tls-cert", filepath.Join(dir, "c"), "--tls-key", filepath.Join(dir, "k")}, "serve: --tls-cert"},
		{"a name with a slash", []string{"serve", "--model", dir, "--name", "a/b"}, `--name "a/b": a model name has no slash`},
		{"arguments", []string{"serve", "--model", dir, "extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, tc.args...)
			assert.Equal(t, 2, code, errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// TestRunThroughServe runs the demo's retrieval and classification tasks on the demo model twice in one config,
// locally and through clipeval serve: validate checks the served model, and every metric of the two is the same.
func TestRunThroughServe(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	model := filepath.Join(demo, demogen.ModelDir)
	addr, _ := startServe(t, "--model", model, "--name", "demo", "--option", "logit_scale=100")
	config := func(url string) string {
		p := filepath.Join(t.TempDir(), "remote.yaml")
		require.NoError(t, os.WriteFile(p, []byte(`models:
  - name: local
    path: `+model+`
    options: {logit_scale: 100}
  - name: remote
    backend: kserve
    path: `+model+`
    options:
      url: "`+url+`"
      model_name: demo
      logit_scale: 100
tasks:
  - name: retrieval
    task: retrieval
    dataset: {format: jsonl, manifest: `+filepath.Join(demo, "data", "retrieval.jsonl")+`}
  - name: classification
    task: classification
    dataset: {format: jsonl, manifest: `+filepath.Join(demo, "data", "classification.jsonl")+`}
    options:
      classes: [red, green, blue, yellow, cyan, magenta]
      templates: ["a {} image."]
`), 0o644))
		return p
	}
	good := config(addr)
	code, out, errOut := cli(t, "validate", good)
	require.Equal(t, 0, code, out+errOut)

	dir := t.TempDir()
	code, _, errOut = cli(t, "run", good, "--out", dir, "--quiet")
	require.Equal(t, 0, code, errOut)
	res, err := results.Read(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	metrics := map[string]map[string]map[string]results.Value{}
	for _, r := range res.Runs {
		require.Empty(t, r.Error)
		if metrics[r.Task] == nil {
			metrics[r.Task] = map[string]map[string]results.Value{}
		}
		metrics[r.Task][r.Model] = r.Metrics
	}
	for _, task := range []string{"retrieval", "classification"} {
		require.NotEmpty(t, metrics[task]["local"], task)
		assert.Equal(t, metrics[task]["local"], metrics[task]["remote"], "%s: the same metrics through serve", task)
	}
	for _, m := range res.Models {
		if m.Name == "remote" {
			assert.Equal(t, "kserve", m.Backend)
			assert.Regexp(t, `^kserve v2: clipeval \S+; demo-image version [0-9a-f]{16} on onnxruntime \S+; demo-text version [0-9a-f]{16} on onnxruntime`, m.Runtime)
		}
	}

	code, _, errOut = cli(t, "validate", config("127.0.0.1:1"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "is the server running there")
}
