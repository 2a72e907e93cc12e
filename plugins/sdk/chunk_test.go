package sdk

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
)

// collect returns a send function appending to *chunks.
func collect[C any](chunks *[]C) func(C) error {
	return func(c C) error {
		*chunks = append(*chunks, c)
		return nil
	}
}

// replay returns a recv function answering chunks in order, then io.EOF.
func replay[C any](chunks ...C) func() (C, error) {
	return func() (C, error) {
		var zero C
		if len(chunks) == 0 {
			return zero, io.EOF
		}
		c := chunks[0]
		chunks = chunks[1:]
		return c, nil
	}
}

// checkSizes fails t unless every chunk is at most ChunkBytes and every chunk but the last is more than half full
// (the sender packs chunks, counting each item's framing generously, rather than sending one per item).
func checkSizes[C proto.Message](t *testing.T, chunks []C) {
	t.Helper()
	for i, c := range chunks {
		n := proto.Size(c)
		assert.LessOrEqual(t, n, ChunkBytes, "chunk %d", i)
		if i < len(chunks)-1 {
			assert.Greater(t, n, ChunkBytes/2, "chunk %d is not packed", i)
		}
	}
}

func TestDatasetChunksRoundTrip(t *testing.T) {
	ds := &Dataset{ID: "retrieval-1", Size: 50_000, Description: "50000 images, 100000 captions", Files: []string{"/data/m.jsonl"}}
	for i := range 50_000 {
		ds.Images = append(ds.Images, ImageInput{Name: fmt.Sprintf("shard-%03d.tar#%06d.jpg", i/1000, i),
			Path: fmt.Sprintf("/data/shards/shard-%03d.tar", i/1000), Offset: int64(512 * (i % 1000)), Size: 512})
	}
	for i := range 100_000 {
		ds.Texts = append(ds.Texts, fmt.Sprintf("caption %06d: %s", i, strings.Repeat("a chest radiograph ", 4)))
	}
	for i := range 30_000 {
		ds.Skipped = append(ds.Skipped, SkippedImage{Image: fmt.Sprintf("/data/images/missing-%06d.png", i),
			Error: fmt.Sprintf("image \"images/missing-%06d.png\": stat /data/images/missing-%06d.png: no such file or directory", i, i)})
	}
	var chunks []*pb.LoadChunk
	require.NoError(t, sendDataset(ds, collect(&chunks)))
	t.Logf("%d chunks", len(chunks))
	assert.GreaterOrEqual(t, len(chunks), 3)
	checkSizes(t, chunks)
	assertProto(t, &pb.DatasetHeader{Id: "retrieval-1", Size: 50_000, Description: "50000 images, 100000 captions",
		Files: []string{"/data/m.jsonl"}, Images: 50_000, Texts: 100_000, SkippedImages: 30_000}, chunks[0].Header)
	assert.True(t, len(chunks[len(chunks)-2].SkippedImages) > 0 && len(chunks[len(chunks)-1].SkippedImages) > 0,
		"30,000 skipped images take more than one chunk")
	for i, c := range chunks[1:] {
		assert.Nil(t, c.Header, "chunk %d", i+1)
	}
	got, err := recvDataset(replay(chunks...))
	require.NoError(t, err)
	assert.Equal(t, ds, got)
}

func TestDatasetChunksSmall(t *testing.T) {
	tests := []struct {
		name string
		in   *Dataset
	}{
		{"empty", &Dataset{ID: "e", Images: []ImageInput{}, Texts: []string{}}},
		{"inline image under a chunk", &Dataset{ID: "i", Size: 1, Images: []ImageInput{{Name: "big", Data: make([]byte, ChunkBytes-64)}},
			Texts: []string{"a", ""}}},
		{"a skipped image", &Dataset{ID: "s", Size: 1, Images: []ImageInput{{Path: "/d/a.png"}}, Texts: []string{},
			Skipped: []SkippedImage{{Image: "/d/b.dcm", Error: "DICOM /d/b.dcm: no Pixel Data"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chunks []*pb.LoadChunk
			require.NoError(t, sendDataset(tc.in, collect(&chunks)))
			for i, c := range chunks {
				assert.LessOrEqual(t, proto.Size(c), ChunkBytes, "chunk %d", i)
			}
			got, err := recvDataset(replay(chunks...))
			require.NoError(t, err)
			assert.Equal(t, tc.in, got)
		})
	}
}

func TestSendDatasetRejects(t *testing.T) {
	sendErr := errors.New("stream broken")
	tests := []struct {
		name string
		in   *Dataset
		send func(*pb.LoadChunk) error
		want string
	}{
		{"header too large", &Dataset{Files: []string{strings.Repeat("f", ChunkBytes)}}, nil,
			"the dataset header is 4194314 bytes, more than a chunk's 4194304 (too many dataset files listed?)"},
		{"inline image larger than a chunk", &Dataset{Images: []ImageInput{{Name: "scan.dcm.png", Data: make([]byte, ChunkBytes)}}}, nil,
			"image scan.dcm.png carries 4194304 bytes inline, more than a chunk's 4194304: refer to its file (path, offset, size) instead"},
		{"text larger than a chunk", &Dataset{Texts: []string{"a", strings.Repeat("x", ChunkBytes)}}, nil,
			"text 1 is 4194304 bytes, more than a chunk's 4194304"},
		{"skipped image larger than a chunk", &Dataset{Skipped: []SkippedImage{{Image: "/d/x.png", Error: strings.Repeat("e", ChunkBytes)}}}, nil,
			"skipped image /d/x.png is described in 4194335 bytes, more than a chunk's 4194304"},
		{"send fails", &Dataset{Texts: []string{"a"}}, func(*pb.LoadChunk) error { return sendErr }, "stream broken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			send := tc.send
			if send == nil {
				send = func(*pb.LoadChunk) error { return nil }
			}
			err := sendDataset(tc.in, send)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestRecvDatasetRejects(t *testing.T) {
	header := func(images, texts int64) *pb.LoadChunk {
		return &pb.LoadChunk{Header: &pb.DatasetHeader{Id: "d", Images: images, Texts: texts}}
	}
	img := []*pb.Image{{Path: "/a.png"}}
	tests := []struct {
		name   string
		chunks []*pb.LoadChunk
		want   string
	}{
		{"empty stream", nil, "the task's Load stream was empty"},
		{"no header", []*pb.LoadChunk{{Texts: []string{"a"}}, header(0, 1)},
			"the task's Load stream does not start with the dataset header"},
		{"second header", []*pb.LoadChunk{header(0, 0), header(0, 0)}, "the task sent a second dataset header"},
		{"negative counts", []*pb.LoadChunk{header(-1, 0)}, "the task's dataset header has negative counts"},
		{"negative size", []*pb.LoadChunk{{Header: &pb.DatasetHeader{Size: -1}}}, "the task's dataset header has negative counts"},
		{"negative skipped", []*pb.LoadChunk{{Header: &pb.DatasetHeader{SkippedImages: -1}}}, "the task's dataset header has negative counts"},
		{"more images than announced", []*pb.LoadChunk{header(1, 0), {Images: img}, {Images: img}},
			"the task sent more images, texts or skipped images than its header announced (1, 0 and 0)"},
		{"more texts than announced", []*pb.LoadChunk{header(0, 1), {Texts: []string{"a", "b"}}},
			"the task sent more images, texts or skipped images than its header announced (0, 1 and 0)"},
		{"skipped images not announced", []*pb.LoadChunk{header(0, 0), {SkippedImages: []*pb.SkippedImage{{Image: "/a.png"}}}},
			"the task sent more images, texts or skipped images than its header announced (0, 0 and 0)"},
		{"fewer than announced", []*pb.LoadChunk{header(2, 1), {Images: img, Texts: []string{"a"}}},
			"the task announced 2 images, 1 texts and 0 skipped images but sent 1, 1 and 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := recvDataset(replay(tc.chunks...))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestRecvDatasetPassesStreamErrors(t *testing.T) {
	broken := errors.New("connection reset")
	_, err := recvDataset(func() (*pb.LoadChunk, error) { return nil, broken })
	assert.ErrorIs(t, err, broken)
}

// bigScores returns scores whose stream needs several chunks: a metric of a million item values, 100,000
// predictions and a small metric with item values of its own.
func bigScores() *Scores {
	s := &Scores{Mode: "zero-shot", Headline: []string{"image_retrieval_recall@1"},
		Curves: []Curve{{Name: "recall", XLabel: "k", YLabel: "recall@k", X: []float64{1, 2}, Y: []float64{0.5, 0.75}}}}
	items := make([]float64, 1_000_000)
	for i := range items {
		items[i] = float64(i) / 7 // values of full precision, to be reassembled bit for bit
	}
	s.Add(Metric{Name: "image_retrieval_recall@1", Value: 0.5, Direction: HigherIsBetter, Unit: Fraction, ItemValues: items,
		Interval: &Interval{Low: 0.4, High: 0.6}, Help: "text→image hit rate at 1"})
	s.Add(Metric{Name: "image_retrieval_median_rank", Value: 2, Direction: LowerIsBetter, Unit: Rank, Help: "median rank"})
	s.Add(Metric{Name: "acc1", Value: 0.5, Direction: HigherIsBetter, Unit: Fraction, ItemValues: []float64{1, 0, math.NaN(), 1},
		Confusion: &Confusion{Classes: []string{"a", "b"}, Counts: [][]int64{{1, 1}, {0, 2}}}})
	for i := range 100_000 {
		s.Predictions = append(s.Predictions, Prediction{Item: fmt.Sprintf("item-%06d", i), Truth: "yes", Predicted: "no", Group: "closed"})
	}
	return s
}

func TestScoresChunksRoundTrip(t *testing.T) {
	in := bigScores()
	var chunks []*pb.ScoreChunk
	require.NoError(t, sendScores(in, collect(&chunks)))
	t.Logf("%d chunks", len(chunks))
	assert.GreaterOrEqual(t, len(chunks), 3)
	checkSizes(t, chunks)
	require.NotNil(t, chunks[0].Header)
	assert.Equal(t, int64(100_000), chunks[0].Header.Predictions)
	assert.Equal(t, []int64{1_000_000, 0, 4}, []int64{chunks[0].Header.Metrics[0].ItemCount,
		chunks[0].Header.Metrics[1].ItemCount, chunks[0].Header.Metrics[2].ItemCount})
	pieces := 0
	for i, c := range chunks[1:] {
		assert.Nil(t, c.Header, "chunk %d", i+1)
		for _, iv := range c.ItemValues {
			if iv.Metric == "image_retrieval_recall@1" {
				pieces++
			}
		}
	}
	assert.GreaterOrEqual(t, pieces, 2, "a million item values are split")

	got, err := recvScores(replay(chunks...))
	require.NoError(t, err)
	require.Len(t, got.Metrics, 3)
	a, b := in.Metrics[0].ItemValues, got.Metrics[0].ItemValues
	require.Len(t, b, len(a))
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("item value %d is %v, want %v", i, b[i], a[i])
		}
	}
	assert.Equal(t, []uint64{math.Float64bits(1), 0, math.Float64bits(math.NaN()), math.Float64bits(1)},
		bits(got.Metrics[2].ItemValues), "NaN item values survive")
	// The rest compares with Equal once the item values, checked above bit for bit, are set aside.
	in.Metrics[0].ItemValues, got.Metrics[0].ItemValues = nil, nil
	in.Metrics[2].ItemValues, got.Metrics[2].ItemValues = nil, nil
	assert.Equal(t, in, got)
}

// bits returns the bit patterns of v.
func bits(v []float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

func TestScoresChunksSmall(t *testing.T) {
	tests := []struct {
		name string
		in   *Scores
	}{
		{"empty", &Scores{}},
		{"one metric", &Scores{Metrics: []Metric{{Name: "n", Value: 3, Direction: Informational, Unit: Count}}, Headline: []string{"n"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chunks []*pb.ScoreChunk
			require.NoError(t, sendScores(tc.in, collect(&chunks)))
			require.Len(t, chunks, 1)
			got, err := recvScores(replay(chunks...))
			require.NoError(t, err)
			assert.Equal(t, tc.in, got)
		})
	}
}

func TestSendScoresRejects(t *testing.T) {
	sendErr := errors.New("stream broken")
	tests := []struct {
		name string
		in   *Scores
		send func(*pb.ScoreChunk) error
		want string
	}{
		{"breaks the contract", &Scores{Metrics: []Metric{{Name: "acc1", Unit: Fraction}}}, nil,
			`the task's scores break the contract: metric "acc1": direction "": declare "higher", "lower" or "none"`},
		{"header too large", &Scores{Curves: []Curve{{Name: "c", X: make([]float64, ChunkBytes/8)}}}, nil,
			"the scores header (metrics, confusion matrices, curves) is 4194322 bytes, more than a chunk's 4194304"},
		{"prediction larger than a chunk", &Scores{Predictions: []Prediction{{Item: "q1", Truth: strings.Repeat("t", ChunkBytes)}}}, nil,
			`prediction of item "q1" is 4194329 bytes, more than a chunk's 4194304`},
		{"send fails", &Scores{}, func(*pb.ScoreChunk) error { return sendErr }, "stream broken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			send := tc.send
			if send == nil {
				send = func(*pb.ScoreChunk) error { return nil }
			}
			err := sendScores(tc.in, send)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestRecvScoresRejects(t *testing.T) {
	metric := func(name string, items int64) *pb.Metric {
		return &pb.Metric{Name: name, Direction: pb.Direction_HIGHER_IS_BETTER, Unit: pb.Unit_FRACTION, ItemCount: items}
	}
	header := func(preds int64, metrics ...*pb.Metric) *pb.ScoreChunk {
		return &pb.ScoreChunk{Header: &pb.ScoresHeader{Metrics: metrics, Predictions: preds}}
	}
	values := func(name string, offset int64, v ...float64) *pb.ScoreChunk {
		return &pb.ScoreChunk{ItemValues: []*pb.ItemValues{{Metric: name, Offset: offset, Values: v}}}
	}
	pred := []*pb.Prediction{{Item: "a"}}
	tests := []struct {
		name   string
		chunks []*pb.ScoreChunk
		want   string
	}{
		{"empty stream", nil, "the task's Score stream was empty"},
		{"no header", []*pb.ScoreChunk{values("acc1", 0, 1), header(0, metric("acc1", 1))},
			"the task's Score stream does not start with the scores header"},
		{"second header", []*pb.ScoreChunk{header(0), header(0)}, "the task sent a second scores header"},
		{"metric without direction", []*pb.ScoreChunk{header(0, &pb.Metric{Name: "acc1", Unit: pb.Unit_FRACTION})},
			`metric "acc1" declares direction DIRECTION_UNSPECIFIED and unit FRACTION; every metric needs both`},
		{"malformed confusion", []*pb.ScoreChunk{header(0, &pb.Metric{Name: "acc1", Direction: pb.Direction_HIGHER_IS_BETTER,
			Unit: pb.Unit_FRACTION, Confusion: &pb.ConfusionMatrix{Classes: []string{"a", "b"}, Counts: []int64{1}}})},
			`metric "acc1": confusion matrix has 1 counts for 2 classes`},
		{"too many item values announced", []*pb.ScoreChunk{header(0, metric("acc1", 1<<31+1))},
			`metric "acc1" announces 2147483649 item values`},
		{"item values out of order", []*pb.ScoreChunk{header(0, metric("acc1", 4)), values("acc1", 2, 1, 1), values("acc1", 0, 1, 1)},
			`item values of metric "acc1" arrived out of order (offset 2, have 0)`},
		{"item values overlapping", []*pb.ScoreChunk{header(0, metric("acc1", 4)), values("acc1", 0, 1, 1), values("acc1", 1, 1, 1)},
			`item values of metric "acc1" arrived out of order (offset 1, have 2)`},
		{"item values of an unknown metric", []*pb.ScoreChunk{header(0, metric("acc1", 1)), values("acc5", 0, 1)},
			`the task sent item values of metric "acc5", which it did not report`},
		{"item values of a metric announcing none", []*pb.ScoreChunk{header(0, metric("acc1", 0)), values("acc1", 0, 1)},
			`the task sent more item values of metric "acc1" than the 0 it announced`},
		{"more item values than announced", []*pb.ScoreChunk{header(0, metric("acc1", 2)), values("acc1", 0, 1, 0, 1)},
			`the task sent more item values of metric "acc1" than the 2 it announced`},
		{"fewer item values than announced", []*pb.ScoreChunk{header(0, metric("acc1", 3)), values("acc1", 0, 1)},
			`metric "acc1": the task announced 3 item values but sent 1`},
		{"more predictions than announced", []*pb.ScoreChunk{header(1), {Predictions: pred}, {Predictions: pred}},
			"the task sent more predictions than the 1 it announced"},
		{"fewer predictions than announced", []*pb.ScoreChunk{header(2), {Predictions: pred}},
			"the task announced 2 predictions but sent 1"},
		{"headline not a metric", []*pb.ScoreChunk{{Header: &pb.ScoresHeader{Headline: []string{"acc1"}}}},
			`the task's scores break the contract: headline metric "acc1" is not among the metrics`},
		{"metric twice", []*pb.ScoreChunk{header(0, metric("acc1", 0), metric("acc1", 0))},
			`the task's scores break the contract: metric "acc1" is reported twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := recvScores(replay(tc.chunks...))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestRecvScoresPassesStreamErrors(t *testing.T) {
	broken := errors.New("connection reset")
	_, err := recvScores(func() (*pb.ScoreChunk, error) { return nil, broken })
	assert.ErrorIs(t, err, broken)
}
