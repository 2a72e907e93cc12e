package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// rawTask returns the plugin's Task service without the SDK client, so that its answer streams can be read chunk
// by chunk (the SDK client reassembles them and hides their sizes).
func (c *checker) rawTask() (pb.TaskClient, error) {
	t, err := c.host.Task(c.name)
	if err != nil {
		return nil, err
	}
	conn, err := t.Conn()
	if err != nil {
		return nil, err
	}
	return pb.NewTaskClient(conn), nil
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

// streamCases loads the dataset and scores it again, reading the answers chunk by chunk.
func (c *checker) streamCases(ctx context.Context, load sdk.LoadRequest, img, txt sdk.EmbeddingFile) {
	raw, err := c.rawTask()
	var id string
	o := c.run(ctx, "load-stream", func(ctx context.Context) outcome {
		if err != nil {
			return fail("%v", err)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := raw.Load(ctx, &pb.LoadRequest{DatasetJson: load.Dataset, OptionsJson: load.Options, WorkDir: load.WorkDir})
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
		s, err := raw.Score(ctx, &pb.ScoreRequest{DatasetId: id, ImageEmbeddings: file(img), TextEmbeddings: file(txt), LogitScale: 100})
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
