// Package sdktest serves a clipeval plugin implementation in the test's own process, over a real gRPC connection
// through the SDK's own adapters, as net/http/httptest serves an http.Handler: a plugin author tests a Task or a
// Model exactly as the harness will call it (request structs converted to protocol messages, Load and Score
// answers streamed in bounded chunks and reassembled, embeddings handed to Score as memory-mapped .npy files),
// without building the plugin or starting a subprocess.
//
// In a test, NewTask and NewModel start a server that is closed when the test ends; StartTask and StartModel are
// the same for code without a testing.TB (an Example, a benchmark harness of one's own), whose caller calls Close.
package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// bufferBytes is the size of the in-memory connection's buffers in each direction.
const bufferBytes = 1 << 20

// conn is one in-process gRPC server and the client connection to it.
type conn struct {
	srv    *grpc.Server
	lis    *bufconn.Listener
	cc     *grpc.ClientConn
	served chan error
	once   sync.Once
	err    error
}

// start serves what register registers on an in-memory listener and dials it, both ends with the SDK's options.
func start(register func(grpc.ServiceRegistrar)) (*conn, error) {
	c := &conn{srv: grpc.NewServer(sdk.ServerOptions()...), lis: bufconn.Listen(bufferBytes), served: make(chan error, 1)}
	register(c.srv)
	go func() { c.served <- c.srv.Serve(c.lis) }()
	dial := func(ctx context.Context, _ string) (net.Conn, error) { return c.lis.DialContext(ctx) }
	opts := append([]grpc.DialOption{grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials())},
		sdk.DialOptions()...)
	cc, err := grpc.NewClient("passthrough:///sdktest", opts...)
	if err != nil {
		c.srv.Stop()
		<-c.served
		return nil, fmt.Errorf("sdktest: dialing the in-process server: %w", err)
	}
	c.cc = cc
	return c, nil
}

// close closes the client connection and stops the server, once; later calls return the first call's result.
func (c *conn) close() error {
	c.once.Do(func() {
		errs := []error{}
		if err := c.cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sdktest: closing the client connection: %w", err))
		}
		c.srv.Stop()
		if err := <-c.served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errs = append(errs, fmt.Errorf("sdktest: serving: %w", err))
		}
		c.err = errors.Join(errs...)
	})
	return c.err
}

// TaskServer is a Task served in process. Client is the SDK's own *sdk.TaskClient, the one the harness uses.
type TaskServer struct {
	// Client calls the served task over gRPC.
	Client *sdk.TaskClient
	// WorkDir is the work folder Load passes to the task (sdk.LoadRequest.WorkDir); it is removed by Close.
	WorkDir string
	dir     string
	c       *conn
	once    sync.Once
	err     error
}

// StartTask serves impl in process and returns the running server; the caller must Close it.
func StartTask(impl sdk.Task) (*TaskServer, error) {
	dir, err := os.MkdirTemp("", "sdktest-task-*")
	if err != nil {
		return nil, fmt.Errorf("sdktest: making the task's folder: %w", err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sdktest: making the task's work folder: %w", err)
	}
	c, err := start(func(s grpc.ServiceRegistrar) { sdk.RegisterTask(s, impl) })
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &TaskServer{Client: sdk.NewTaskClient(c.cc), WorkDir: work, dir: dir, c: c}, nil
}

// NewTask serves impl in process for the test t and closes the server when the test ends; a server that cannot
// start fails the test.
func NewTask(t testing.TB, impl sdk.Task) *TaskServer {
	t.Helper()
	return forTest(t, func() (*TaskServer, error) { return StartTask(impl) })
}

// forTest starts a server for the test t, failing it when the server cannot start, and closes the server when
// the test ends.
func forTest[S interface{ Close() error }](t testing.TB, start func() (S, error)) S {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sdktest: %v", err)
		}
	})
	return s
}

// Describe calls the task's Describe.
func (s *TaskServer) Describe(ctx context.Context) (*sdk.PluginInfo, error) {
	return s.Client.Describe(ctx, sdk.DescribeRequest{})
}

// Load calls the task's Load as the harness does: dataset and options (the config's `dataset:` and `options:`
// mappings: a struct, a map, a json.RawMessage; nil for none) encoded as JSON objects, and WorkDir as the work
// folder.
func (s *TaskServer) Load(ctx context.Context, dataset, options any) (*sdk.Dataset, error) {
	d, err := object("dataset", dataset)
	if err != nil {
		return nil, err
	}
	o, err := object("options", options)
	if err != nil {
		return nil, err
	}
	return s.Client.Load(ctx, sdk.LoadRequest{Dataset: d, Options: o, WorkDir: s.WorkDir})
}

// object returns v as JSON, "{}" for nil.
func object(what string, v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage(`{}`), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sdktest: encoding the %s mapping: %w", what, err)
	}
	return b, nil
}

// Score calls the task's Score as the harness does: images and texts are written to .npy files
// (npy.WriteFloat32File), which the task maps read-only, and removed when the call returns.
func (s *TaskServer) Score(ctx context.Context, datasetID string, images, texts sdk.Matrix, logitScale float64) (*sdk.Scores, error) {
	img, err := s.write("images", images)
	if err != nil {
		return nil, err
	}
	defer os.Remove(img.Path)
	txt, err := s.write("texts", texts)
	if err != nil {
		return nil, err
	}
	defer os.Remove(txt.Path)
	return s.Client.Score(ctx, sdk.ScoreFilesRequest{DatasetID: datasetID, ImageEmbeddings: img, TextEmbeddings: txt, LogitScale: logitScale})
}

// write writes m to a fresh .npy file in the server's folder.
func (s *TaskServer) write(kind string, m sdk.Matrix) (sdk.EmbeddingFile, error) {
	if err := m.Check(); err != nil {
		return sdk.EmbeddingFile{}, fmt.Errorf("sdktest: %s embeddings: %w", kind, err)
	}
	f, err := os.CreateTemp(s.dir, kind+"-*.npy")
	if err != nil {
		return sdk.EmbeddingFile{}, fmt.Errorf("sdktest: writing %s embeddings: %w", kind, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return sdk.EmbeddingFile{}, fmt.Errorf("sdktest: writing %s embeddings: %w", kind, err)
	}
	if err := npy.WriteFloat32File(f.Name(), m.Rows, m.Cols, m.Data); err != nil {
		os.Remove(f.Name())
		return sdk.EmbeddingFile{}, fmt.Errorf("sdktest: writing %s embeddings: %w", kind, err)
	}
	return sdk.EmbeddingFile{Path: f.Name(), Rows: m.Rows, Cols: m.Cols}, nil
}

// Close stops the server, closes the client and removes the server's folder (WorkDir included). It may be called
// more than once; calls after the first return the first one's result without doing anything.
func (s *TaskServer) Close() error {
	s.once.Do(func() {
		s.err = s.c.close()
		if err := os.RemoveAll(s.dir); err != nil {
			s.err = errors.Join(s.err, fmt.Errorf("sdktest: removing %s: %w", s.dir, err))
		}
	})
	return s.err
}

// ModelServer is a Model served in process. Client is the SDK's own *sdk.ModelClient, the one the harness uses;
// it also makes the optional InputModel calls, which answer Unimplemented (sdk.IsUnimplemented) when the served
// model does not implement sdk.InputModel.
type ModelServer struct {
	// Client calls the served model backend over gRPC.
	Client *sdk.ModelClient
	c      *conn
}

// StartModel serves impl in process and returns the running server; the caller must Close it.
func StartModel(impl sdk.Model) (*ModelServer, error) {
	c, err := start(func(s grpc.ServiceRegistrar) { sdk.RegisterModel(s, impl) })
	if err != nil {
		return nil, err
	}
	return &ModelServer{Client: sdk.NewModelClient(c.cc), c: c}, nil
}

// NewModel serves impl in process for the test t and closes the server when the test ends; a server that cannot
// start fails the test.
func NewModel(t testing.TB, impl sdk.Model) *ModelServer {
	t.Helper()
	return forTest(t, func() (*ModelServer, error) { return StartModel(impl) })
}

// Close stops the server and closes the client. It may be called more than once.
func (s *ModelServer) Close() error { return s.c.close() }
