package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// streamStats describes one answer stream as it arrived.
type streamStats struct {
	chunks  int
	largest int
	total   int64
}

func (s streamStats) String() string {
	how := "fits one chunk, so chunking was not exercised"
	if s.chunks > 1 {
		how = "chunked"
	}
	return fmt.Sprintf("%d chunks, largest %d bytes, %d bytes in all (%s)", s.chunks, s.largest, s.total, how)
}

// rawTask is a task plugin started through go-plugin directly, so that its answer streams can be read chunk by
// chunk (the SDK client reassembles them and hides their sizes).
type rawTask struct {
	client *plugin.Client
	task   pb.TaskClient
}

// startRaw starts a second instance of the plugin.
func (c *checker) startRaw() (*rawTask, error) {
	logOut := c.opts.Log
	if logOut == nil {
		logOut = io.Discard
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          sdk.PluginSet(),
		Cmd:              exec.Command(c.path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  sdk.DialOptions(),
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "conformance." + c.name, Output: logOut, Level: hclog.Warn}),
		StartTimeout:     c.opts.StartTimeout,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("starting a second instance: %w", err)
	}
	g, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("starting a second instance: not a gRPC plugin")
	}
	return &rawTask{client: client, task: pb.NewTaskClient(g.Conn)}, nil
}

// recvAll reads a stream to its end, checking that only the first message has a header and that no message is
// larger than a chunk may be.
func recvAll[T interface {
	*pb.LoadChunk | *pb.ScoreChunk
	proto.Message
}](recv func() (T, error), hasHeader func(T) bool) ([]T, streamStats, error) {
	var out []T
	var st streamStats
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, st, fmt.Errorf("after %d chunks: %w", st.chunks, err)
		}
		n := proto.Size(m)
		if n > sdk.ChunkBytes {
			return nil, st, fmt.Errorf("chunk %d is %d bytes, more than the %d a chunk may have", st.chunks, n, sdk.ChunkBytes)
		}
		if hasHeader(m) != (st.chunks == 0) {
			return nil, st, fmt.Errorf("chunk %d: the header must come in the first chunk and only there", st.chunks)
		}
		st.chunks++
		st.largest = max(st.largest, n)
		st.total += int64(n)
		out = append(out, m)
	}
	if st.chunks == 0 {
		return nil, st, fmt.Errorf("the stream was empty")
	}
	return out, st, nil
}

// streamCases loads the dataset and scores it again through a second instance read chunk by chunk.
func (c *checker) streamCases(ctx context.Context, load sdk.LoadRequest, img, txt sdk.EmbeddingFile) {
	raw, err := c.startRaw()
	if err == nil {
		defer raw.client.Kill()
	}
	var id string
	o := c.run(ctx, "load-stream", func(ctx context.Context) outcome {
		if err != nil {
			return fail("%v", err)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := raw.task.Load(ctx, &pb.LoadRequest{DatasetJson: load.Dataset, OptionsJson: load.Options, WorkDir: load.WorkDir})
		if err != nil {
			return fail("%v", err)
		}
		chunks, st, err := recvAll(s.Recv, func(m *pb.LoadChunk) bool { return m.GetHeader() != nil })
		if err != nil {
			return fail("%v", err)
		}
		id = chunks[0].GetHeader().GetId()
		return pass("%s", st)
	})
	c.run(ctx, "score-stream", func(ctx context.Context) outcome {
		if o.status != Pass {
			return skip("load-stream did not pass")
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		file := func(f sdk.EmbeddingFile) *pb.EmbeddingFile {
			return &pb.EmbeddingFile{Path: f.Path, Rows: int64(f.Rows), Cols: int64(f.Cols)}
		}
		s, err := raw.task.Score(ctx, &pb.ScoreRequest{DatasetId: id, ImageEmbeddings: file(img), TextEmbeddings: file(txt), LogitScale: 100})
		if err != nil {
			return fail("%v", err)
		}
		_, st, err := recvAll(s.Recv, func(m *pb.ScoreChunk) bool { return m.GetHeader() != nil })
		if err != nil {
			return fail("%v", err)
		}
		return pass("%s", st)
	})
}
