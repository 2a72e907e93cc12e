package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8"

	"github.com/clipeval/clipeval/harness/run"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// timedEvent is an event arriving at an offset from the start of a test.
type timedEvent struct {
	at time.Duration
	ev run.Event
}

// at builds a timedEvent of stage kind for model m on task t.
func at(ms int, m, t, kind string, done, total, cached int) timedEvent {
	return timedEvent{time.Duration(ms) * time.Millisecond, run.Event{Model: m, Task: t, Stage: kind, Done: done, Total: total, Cached: cached}}
}

// feed sends events to p, moving clock to each one's time.
func feed(p *progress, clock *fakeClock, events []timedEvent) {
	start := clock.t
	for _, e := range events {
		clock.t = start.Add(e.at)
		p.event(e.ev)
	}
}

func TestProgressLines(t *testing.T) {
	tests := []struct {
		name   string
		events []timedEvent
		want   string
	}{
		{"stages", []timedEvent{
			{0, run.Event{Task: "vqa-rad", Stage: "load"}},
			{0, run.Event{Model: "biomedclip", Task: "vqa-rad", Stage: "score"}},
			{0, run.Event{Model: "biomedclip", Task: "vqa-rad", Stage: "done"}},
		}, "task vqa-rad: loading dataset\nbiomedclip · vqa-rad: scoring\nbiomedclip · vqa-rad: done\n"},
		{"rate, cache hits, ETA, at most a line a second, then the final count", []timedEvent{
			at(0, "biomedclip", "vqa-rad", "texts", 5120, 73489, 5120),
			at(500, "biomedclip", "vqa-rad", "texts", 6000, 73489, 5120),
			at(4000, "biomedclip", "vqa-rad", "texts", 12440, 73489, 5120),
			at(4500, "biomedclip", "vqa-rad", "texts", 13000, 73489, 5120),
			at(5000, "biomedclip", "vqa-rad", "texts", 14000, 73489, 5120),
			at(5200, "biomedclip", "vqa-rad", "texts", 14500, 73489, 5120),
			at(40000, "biomedclip", "vqa-rad", "texts", 73489, 73489, 5120),
		}, "biomedclip · vqa-rad: texts 5120/73489 (5120 cached)\n" +
			"biomedclip · vqa-rad: texts 12440/73489 (1830/s, 5120 cached, ETA 33s)\n" +
			"biomedclip · vqa-rad: texts 14000/73489 (1776/s, 5120 cached, ETA 33s)\n" +
			"biomedclip · vqa-rad: texts 73489/73489 (1709/s, 5120 cached, in 40s)\n"},
		{"the final count comes at once, and once", []timedEvent{
			at(0, "m", "t", "images", 0, 16, 0),
			at(1000, "m", "t", "images", 8, 16, 0),
			at(1100, "m", "t", "images", 16, 16, 0),
			at(1200, "m", "t", "images", 16, 16, 0),
		}, "m · t: images 0/16\nm · t: images 8/16 (8/s, ETA 1s)\nm · t: images 16/16 (15/s, in 1s)\n"},
		{"slow and long", []timedEvent{
			at(0, "m", "t", "images", 0, 100, 0),
			at(2000, "m", "t", "images", 1, 100, 0),
			at(100000, "m", "t", "images", 4, 100, 0),
		}, "m · t: images 0/100\nm · t: images 1/100 (0.5/s, ETA 3m18s)\nm · t: images 4/100 (0.04/s, ETA 40m0s)\n"},
		{"fast: under a second", []timedEvent{
			at(0, "m", "t", "texts", 0, 5, 0),
			at(300, "m", "t", "texts", 5, 5, 0),
		}, "m · t: texts 0/5\nm · t: texts 5/5 (17/s, in <1s)\n"},
		{"all cached", []timedEvent{
			at(0, "m", "t", "texts", 10, 10, 10),
			at(0, "m", "t", "texts", 10, 10, 10),
		}, "m · t: texts 10/10 (10 cached)\n"},
		{"nothing to encode", []timedEvent{at(0, "m", "t", "texts", 0, 0, 0)}, "m · t: texts 0/0\n"},
		{"bad images skipped", []timedEvent{
			at(0, "m", "t", "images", 0, 16, 0),
			{time.Second, run.Event{Model: "m", Task: "t", Stage: "images", Done: 16, Total: 16, Cached: 4, Skipped: 2}},
		}, "m · t: images 0/16\nm · t: images 16/16 (16/s, 4 cached, 2 bad, skipped, in 1s)\n"},
		{"a line a second per model × task × kind", []timedEvent{
			at(0, "a", "t", "images", 0, 9, 0),
			at(0, "a", "t", "texts", 0, 9, 0),
			at(100, "b", "t", "images", 0, 9, 0),
			at(200, "a", "t", "images", 3, 9, 0),
			at(200, "a", "u", "images", 0, 9, 0),
		}, "a · t: images 0/9\na · t: texts 0/9\nb · t: images 0/9\na · u: images 0/9\n"},
		{"a model without a task (embed)", []timedEvent{
			at(0, "clip-b32", "", "texts", 0, 4, 0),
			at(2000, "clip-b32", "", "texts", 4, 4, 0),
		}, "clip-b32: texts 0/4\nclip-b32: texts 4/4 (2/s, in 2s)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			p := newProgress(&out, progressLines, clock.now)
			feed(p, clock, tc.events)
			p.close()
			p.event(run.Event{Task: "late", Stage: "load"}) // after close: nothing
			assert.Equal(t, tc.want, out.String())
		})
	}
}

// sampleRun is the events of one model on one task, as run.Runner emits them.
var sampleRun = []timedEvent{
	{0, run.Event{Task: "vqa-rad", Stage: "load"}},
	at(1000, "biomedclip", "vqa-rad", "images", 2, 6, 2),
	at(2000, "biomedclip", "vqa-rad", "images", 6, 6, 2),
	at(2000, "biomedclip", "vqa-rad", "texts", 0, 4, 0),
	at(3000, "biomedclip", "vqa-rad", "texts", 4, 4, 0),
	{3000, run.Event{Model: "biomedclip", Task: "vqa-rad", Stage: "score"}},
	{4000, run.Event{Model: "biomedclip", Task: "vqa-rad", Stage: "done"}},
}

func TestProgressQuiet(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{time.Unix(0, 0)}
	p := newProgress(&out, progressQuiet, clock.now)
	feed(p, clock, sampleRun)
	_, err := p.Write([]byte("plugin warning\n"))
	require.NoError(t, err)
	p.close()
	assert.Equal(t, "plugin warning\n", out.String(), "only what the plugins log")
}

// closeWithin closes p, failing the test if that takes more than 10 s (a bar left waiting).
func closeWithin(t *testing.T, p *progress) {
	t.Helper()
	closed := make(chan struct{})
	go func() { p.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return")
	}
}

// screen is what a terminal shows after printing s, which mpb writes as frames of lines, each after moving the
// cursor up over the previous frame and erasing below it ("\x1b[<n>A\x1b[J").
func screen(t *testing.T, s string) string {
	t.Helper()
	var lines []string
	for s != "" {
		if rest, ok := strings.CutPrefix(s, "\x1b["); ok {
			n, after, ok := strings.Cut(rest, "A\x1b[J")
			up, err := strconv.Atoi(n)
			require.True(t, ok && err == nil && up <= len(lines), "a control sequence other than cursor up n, erase below: %q", s)
			lines, s = lines[:len(lines)-up], after
			continue
		}
		line, rest, ok := strings.Cut(s, "\n")
		require.True(t, ok, "a last line without its newline: %q", s)
		require.NotContains(t, line, "\x1b", "a control sequence within a line")
		lines, s = append(lines, line), rest
	}
	return strings.Join(lines, "\n")
}

func TestProgressBars(t *testing.T) {
	tests := []struct {
		name   string
		events []timedEvent
		log    string
		want   string
	}{
		{"a whole run", sampleRun, "", `task vqa-rad: loaded
biomedclip · vqa-rad images 6/6 [======================================] (4/s, 2 cached, in 1s)
biomedclip · vqa-rad texts  4/4 [======================================] (4/s, in 1s)
biomedclip · vqa-rad: done`},
		{"a failed run: bars stay where they were", sampleRun[:2], "", `task vqa-rad: loaded
biomedclip · vqa-rad images 2/6 [============>-------------------------] (2 cached)`},
		{"plugin warnings print above the bars", sampleRun[:3], "[WARN] onnx: slow\n", `[WARN] onnx: slow
task vqa-rad: loaded
biomedclip · vqa-rad images 6/6 [======================================] (4/s, 2 cached, in 1s)`},
		{"nothing to encode", []timedEvent{at(0, "m", "t", "texts", 0, 0, 0)}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{time.Unix(0, 0)}
			p := newProgress(&out, progressBars, clock.now, mpb.WithWidth(100))
			p.redrawRate = time.Hour // only the redraws of bars ending and of close
			feed(p, clock, tc.events)
			if tc.log != "" {
				_, err := p.Write([]byte(tc.log))
				require.NoError(t, err)
			}
			closeWithin(t, p)
			_, err := p.Write([]byte("after\n")) // after close: straight to the output
			require.NoError(t, err)
			want := tc.want + "\nafter"
			if tc.want == "" {
				want = "after"
			}
			assert.Equal(t, want, screen(t, out.String()))
		})
	}
}

func TestProgressModeFor(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer file.Close()
	tests := []struct {
		name  string
		w     io.Writer
		quiet bool
		want  progressMode
	}{
		{"a buffer", &bytes.Buffer{}, false, progressLines},
		{"a file", file, false, progressLines},
		{"--quiet", &bytes.Buffer{}, true, progressQuiet},
		{"--quiet on a file", file, true, progressQuiet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, progressModeFor(tc.w, tc.quiet))
		})
	}
}
