package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestPipeline checks the encoder's batch pipeline: answers are used in batch order whatever order the calls
// finish in, no more than inFlight calls (and batches in memory) at once, and the first error stops it with no
// call left running.
func TestPipeline(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name     string
		items    int
		size     int
		failCall int // batch whose call fails (-1: none)
		failUse  int // batch whose use fails (-1: none)
		wantErr  error
		wantUsed int // batches used
	}{
		{"empty", 0, 4, -1, -1, nil, 0},
		{"one short batch", 3, 4, -1, -1, nil, 1},
		{"many batches", 37, 4, -1, -1, nil, 10},
		{"a call fails", 37, 4, 5, -1, boom, 5},
		{"the first call fails", 37, 4, 0, -1, boom, 0},
		{"a use fails", 37, 4, -1, 3, boom, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items := make([]int, c.items)
			for i := range items {
				items[i] = 100 + i
			}
			var running, peak, live atomic.Int32
			var mu sync.Mutex
			var used [][]int
			call := func(ctx context.Context, idx []int) (sdk.Matrix, error) {
				n := running.Add(1)
				defer running.Add(-1)
				live.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				k := (idx[0] - 100) / c.size
				time.Sleep(time.Duration((k*7)%3) * time.Millisecond) // later batches may finish first
				if k == c.failCall {
					live.Add(-1)
					return sdk.Matrix{}, boom
				}
				m := sdk.Matrix{Rows: len(idx), Cols: 1}
				for _, i := range idx {
					m.Data = append(m.Data, float32(i))
				}
				return m, nil
			}
			err := pipeline(context.Background(), items, c.size, call, func(idx []int, m sdk.Matrix, err error) error {
				defer live.Add(-1)
				if err != nil {
					return fmt.Errorf("wrapped: %w", err)
				}
				k := (idx[0] - 100) / c.size
				if k == c.failUse {
					return boom
				}
				for j, i := range idx {
					if m.Row(j)[0] != float32(i) {
						return fmt.Errorf("batch %d row %d is item %v, want %d", k, j, m.Row(j)[0], i)
					}
				}
				mu.Lock()
				used = append(used, slices.Clone(idx))
				mu.Unlock()
				return nil
			})
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("pipeline: %v, want %v", err, c.wantErr)
			}
			if len(used) != c.wantUsed {
				t.Fatalf("%d batches used, want %d", len(used), c.wantUsed)
			}
			for k, idx := range used {
				if want := items[k*c.size : min((k+1)*c.size, c.items)]; !slices.Equal(idx, want) {
					t.Errorf("batch %d used is %v, want %v", k, idx, want)
				}
			}
			if p := peak.Load(); p > inFlight {
				t.Errorf("%d calls at once, want at most %d", p, inFlight)
			}
			if r := running.Load(); r != 0 {
				t.Errorf("%d calls still running after pipeline returned", r)
			}
		})
	}
}

// TestPipelineStopsWhenCancelled checks that cancelling the context ends the pipeline promptly, with the
// context's error, and no call left running.
func TestPipelineStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var running atomic.Int32
	items := make([]int, 100)
	errc := make(chan error, 1)
	go func() {
		errc <- pipeline(ctx, items, 1, func(ctx context.Context, _ []int) (sdk.Matrix, error) {
			running.Add(1)
			defer running.Add(-1)
			<-ctx.Done() // a call that only a cancel ends, as a hung backend's
			return sdk.Matrix{}, ctx.Err()
		}, func(_ []int, _ sdk.Matrix, err error) error { return err })
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("pipeline: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pipeline did not stop within 5 s of the cancel")
	}
	if r := running.Load(); r != 0 {
		t.Errorf("%d calls still running after pipeline returned", r)
	}
}
