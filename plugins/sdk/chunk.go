package sdk

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v2"
)

// ChunkBytes bounds one message of Load's and Score's answer streams (4 MiB): however large a dataset, no message
// grows with it.
const ChunkBytes = 4 << 20

// perItem is protobuf's framing overhead of one repeated element, counted generously.
const perItem = 16

// chunker fills one message at a time and sends it before an addition would take it past ChunkBytes.
type chunker[C any] struct {
	cur   C
	size  int
	fresh func() C
	send  func(C) error
}

// room makes room for n more bytes in the current message, sending it first when they would not fit.
func (c *chunker[C]) room(n int) error {
	if c.size+n > ChunkBytes {
		if err := c.flush(); err != nil {
			return err
		}
	}
	c.size += n
	return nil
}

// flush sends the current message and starts an empty one.
func (c *chunker[C]) flush() error {
	err := c.send(c.cur)
	c.cur, c.size = c.fresh(), 0
	return err
}

// sendDataset streams a dataset as LoadChunks: the header first, then images and texts in order, each chunk under
// ChunkBytes.
func sendDataset(ds *Dataset, send func(*pb.LoadChunk) error) error {
	chunk := &pb.LoadChunk{Header: &pb.DatasetHeader{Id: ds.ID, Size: int64(ds.Size), Description: ds.Description,
		Files: ds.Files, Images: int64(len(ds.Images)), Texts: int64(len(ds.Texts)), SkippedImages: int64(len(ds.Skipped))}}
	size := proto.Size(chunk)
	if size > ChunkBytes {
		return fmt.Errorf("the dataset header is %d bytes, more than a chunk's %d (too many dataset files listed?)", size, ChunkBytes)
	}
	c := &chunker[*pb.LoadChunk]{cur: chunk, size: size, fresh: func() *pb.LoadChunk { return &pb.LoadChunk{} }, send: send}
	for _, im := range ds.Images {
		p := imageToProto(im)
		n := proto.Size(p) + perItem
		if n > ChunkBytes {
			return fmt.Errorf("image %s carries %d bytes inline, more than a chunk's %d: refer to its file (path, offset, size) instead",
				im.Label(), len(im.Data), ChunkBytes)
		}
		if err := c.room(n); err != nil {
			return err
		}
		c.cur.Images = append(c.cur.Images, p)
	}
	for i, t := range ds.Texts {
		n := len(t) + perItem
		if n > ChunkBytes {
			return fmt.Errorf("text %d is %d bytes, more than a chunk's %d", i, len(t), ChunkBytes)
		}
		if err := c.room(n); err != nil {
			return err
		}
		c.cur.Texts = append(c.cur.Texts, t)
	}
	for _, sk := range ds.Skipped {
		p := &pb.SkippedImage{Image: sk.Image, Error: sk.Error}
		n := proto.Size(p) + perItem
		if n > ChunkBytes {
			return fmt.Errorf("skipped image %.200s is described in %d bytes, more than a chunk's %d", sk.Image, n, ChunkBytes)
		}
		if err := c.room(n); err != nil {
			return err
		}
		c.cur.SkippedImages = append(c.cur.SkippedImages, p)
	}
	return c.flush()
}

// recvDataset reassembles a dataset from a LoadChunk stream, checking it against its header.
func recvDataset(recv func() (*pb.LoadChunk, error)) (*Dataset, error) {
	var ds *Dataset
	var want [3]int64
	for {
		c, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h := c.GetHeader(); h != nil {
			if ds != nil {
				return nil, fmt.Errorf("the task sent a second dataset header")
			}
			if h.GetImages() < 0 || h.GetTexts() < 0 || h.GetSize() < 0 || h.GetSkippedImages() < 0 {
				return nil, fmt.Errorf("the task's dataset header has negative counts")
			}
			ds = &Dataset{ID: h.GetId(), Size: int(h.GetSize()), Description: h.GetDescription(), Files: h.GetFiles(),
				Images: make([]ImageInput, 0, min(h.GetImages(), 1<<20)), Texts: make([]string, 0, min(h.GetTexts(), 1<<20))}
			want = [3]int64{h.GetImages(), h.GetTexts(), h.GetSkippedImages()}
		} else if ds == nil {
			return nil, fmt.Errorf("the task's Load stream does not start with the dataset header")
		}
		ds.Images = append(ds.Images, imagesFromProto(c.GetImages())...)
		ds.Texts = append(ds.Texts, c.GetTexts()...)
		for _, sk := range c.GetSkippedImages() {
			ds.Skipped = append(ds.Skipped, SkippedImage{Image: sk.GetImage(), Error: sk.GetError()})
		}
		if int64(len(ds.Images)) > want[0] || int64(len(ds.Texts)) > want[1] || int64(len(ds.Skipped)) > want[2] {
			return nil, fmt.Errorf("the task sent more images, texts or skipped images than its header announced (%d, %d and %d)",
				want[0], want[1], want[2])
		}
	}
	if ds == nil {
		return nil, fmt.Errorf("the task's Load stream was empty")
	}
	if int64(len(ds.Images)) != want[0] || int64(len(ds.Texts)) != want[1] || int64(len(ds.Skipped)) != want[2] {
		return nil, fmt.Errorf("the task announced %d images, %d texts and %d skipped images but sent %d, %d and %d",
			want[0], want[1], want[2], len(ds.Images), len(ds.Texts), len(ds.Skipped))
	}
	return ds, nil
}

// sendScores streams scores as ScoreChunks: the header (metrics without their item values, headline, curves,
// mode), then the predictions, then every metric's item values, each chunk under ChunkBytes.
func sendScores(s *Scores, send func(*pb.ScoreChunk) error) error {
	if err := s.Check(); err != nil {
		return fmt.Errorf("the task's scores break the contract: %w", err)
	}
	h := &pb.ScoresHeader{Headline: s.Headline, Mode: s.Mode, Predictions: int64(len(s.Predictions))}
	for _, m := range s.Metrics {
		h.Metrics = append(h.Metrics, metricToProto(m))
	}
	for _, c := range s.Curves {
		h.Curves = append(h.Curves, curveToProto(c))
	}
	chunk := &pb.ScoreChunk{Header: h}
	size := proto.Size(chunk)
	if size > ChunkBytes {
		return fmt.Errorf("the scores header (metrics, confusion matrices, curves) is %d bytes, more than a chunk's %d", size, ChunkBytes)
	}
	c := &chunker[*pb.ScoreChunk]{cur: chunk, size: size, fresh: func() *pb.ScoreChunk { return &pb.ScoreChunk{} }, send: send}
	for _, p := range s.Predictions {
		q := predictionToProto(p)
		n := proto.Size(q) + perItem
		if n > ChunkBytes {
			return fmt.Errorf("prediction of item %q is %d bytes, more than a chunk's %d", p.Item, n, ChunkBytes)
		}
		if err := c.room(n); err != nil {
			return err
		}
		c.cur.Predictions = append(c.cur.Predictions, q)
	}
	const perValue = 8
	for _, m := range s.Metrics {
		for off := 0; off < len(m.ItemValues); {
			room := (ChunkBytes - c.size - len(m.Name) - 3*perItem) / perValue
			if room < 1024 {
				if err := c.flush(); err != nil {
					return err
				}
				continue
			}
			end := min(len(m.ItemValues), off+room)
			c.cur.ItemValues = append(c.cur.ItemValues, &pb.ItemValues{Metric: m.Name, Offset: int64(off), Values: m.ItemValues[off:end]})
			c.size += len(m.Name) + 3*perItem + perValue*(end-off)
			off = end
		}
	}
	return c.flush()
}

// recvScores reassembles scores from a ScoreChunk stream, checking it against its header.
func recvScores(recv func() (*pb.ScoreChunk, error)) (*Scores, error) {
	var s *Scores
	var wantPreds int64
	byName := map[string]int{}
	wantItems := map[string]int64{}
	for {
		c, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h := c.GetHeader(); h != nil {
			if s != nil {
				return nil, fmt.Errorf("the task sent a second scores header")
			}
			s = &Scores{Headline: h.GetHeadline(), Mode: h.GetMode()}
			for _, p := range h.GetMetrics() {
				m, err := metricFromProto(p)
				if err != nil {
					return nil, err
				}
				if n := p.GetItemCount(); n > 0 {
					if n > 1<<31 {
						return nil, fmt.Errorf("metric %q announces %d item values", m.Name, n)
					}
					m.ItemValues = make([]float64, 0, min(n, 1<<20))
					wantItems[m.Name] = n
				}
				byName[m.Name] = len(s.Metrics)
				s.Metrics = append(s.Metrics, m)
			}
			for _, c := range h.GetCurves() {
				s.Curves = append(s.Curves, curveFromProto(c))
			}
			wantPreds = h.GetPredictions()
		} else if s == nil {
			return nil, fmt.Errorf("the task's Score stream does not start with the scores header")
		}
		for _, q := range c.GetPredictions() {
			s.Predictions = append(s.Predictions, predictionFromProto(q))
		}
		if int64(len(s.Predictions)) > wantPreds {
			return nil, fmt.Errorf("the task sent more predictions than the %d it announced", wantPreds)
		}
		for _, iv := range c.GetItemValues() {
			i, ok := byName[iv.GetMetric()]
			if !ok {
				return nil, fmt.Errorf("the task sent item values of metric %q, which it did not report", iv.GetMetric())
			}
			m := &s.Metrics[i]
			if iv.GetOffset() != int64(len(m.ItemValues)) {
				return nil, fmt.Errorf("item values of metric %q arrived out of order (offset %d, have %d)", m.Name, iv.GetOffset(), len(m.ItemValues))
			}
			m.ItemValues = append(m.ItemValues, iv.GetValues()...)
			if int64(len(m.ItemValues)) > wantItems[m.Name] {
				return nil, fmt.Errorf("the task sent more item values of metric %q than the %d it announced", m.Name, wantItems[m.Name])
			}
		}
	}
	if s == nil {
		return nil, fmt.Errorf("the task's Score stream was empty")
	}
	if int64(len(s.Predictions)) != wantPreds {
		return nil, fmt.Errorf("the task announced %d predictions but sent %d", wantPreds, len(s.Predictions))
	}
	for _, m := range s.Metrics {
		if int64(len(m.ItemValues)) != wantItems[m.Name] {
			return nil, fmt.Errorf("metric %q: the task announced %d item values but sent %d", m.Name, wantItems[m.Name], len(m.ItemValues))
		}
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("the task's scores break the contract: %w", err)
	}
	return s, nil
}
