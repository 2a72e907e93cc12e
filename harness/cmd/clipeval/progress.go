package main

// The progress display of `clipeval run` (and embed).
//
// Bars use github.com/vbauerster/mpb/v8 rather than schollz/progressbar: mpb renders any number of bars at once in
// one container (a bar per model × task × input kind, plus lines for the load and score stages), prints log lines
// above running bars through the container's io.Writer (the plugins' warnings go there), and renders to any
// io.Writer, which the tests use; progressbar draws one bar per writer.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/clipeval/clipeval/harness/run"
)

// progressMode says how progress is shown.
type progressMode int

const (
	// progressLines prints plain lines: each stage as it starts, encoding counts at most once per interval per
	// model × task × kind plus the final count. For logs and pipes.
	progressLines progressMode = iota
	// progressBars renders live bars, for a terminal.
	progressBars
	// progressQuiet shows nothing.
	progressQuiet
)

// progressModeFor picks the mode for w: quiet when asked, bars when w is a terminal, plain lines otherwise.
func progressModeFor(w io.Writer, quiet bool) progressMode {
	switch {
	case quiet:
		return progressQuiet
	case isTerminal(w):
		return progressBars
	}
	return progressLines
}

// isTerminal reports whether w is a file open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressInterval is the least time between two plain lines of one model × task × kind.
const progressInterval = time.Second

// barRedraw is how often bars are redrawn.
const barRedraw = 150 * time.Millisecond

// progress shows run.Events on w in its mode. Its methods are safe for concurrent use; close it once the run is
// over, before printing anything else to w.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	mode   progressMode
	now    func() time.Time
	every  time.Duration
	stages map[stageKey]*stageState

	// Bars mode: the container, started with the first bar; its options; how often it redraws, on a tick of
	// redraw sent to it until stopRedraw closes; every bar made, to end those left unfinished on close; the load
	// line of the task being loaded; whether close has run.
	bars       *mpb.Progress
	barOpts    []mpb.ContainerOption
	redrawRate time.Duration
	redraw     chan any
	stopRedraw chan struct{}
	redrawDone chan struct{}
	made       []*mpb.Bar
	loading    *mpb.Bar
	closed     bool
}

// stageKey names one stage of one model × task.
type stageKey struct{ model, task, stage string }

// stageState is what progress knows of one stage.
type stageState struct {
	start     time.Time // the first event
	startDone int       // Done at the first event: the rate counts the inputs encoded since
	last      time.Time // the last plain line
	final     bool      // the final count is printed
	bar       *mpb.Bar
	info      atomic.Pointer[string] // the bar's trailing statistics, read by the render goroutine
}

// newProgress returns a progress showing events on w in mode, timed by now. barOpts are added to the bar
// container's options (tests give it a width).
func newProgress(w io.Writer, mode progressMode, now func() time.Time, barOpts ...mpb.ContainerOption) *progress {
	return &progress{w: w, mode: mode, now: now, every: progressInterval, stages: map[stageKey]*stageState{},
		barOpts: barOpts, redrawRate: barRedraw}
}

// event shows one event.
func (p *progress) event(ev run.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	switch p.mode {
	case progressLines:
		p.line(ev)
	case progressBars:
		p.bar(ev)
	}
}

// resumedNote says that a run was not repeated.
const resumedNote = "kept from the previous run (same model, task, options and data)"

// line prints the plain line of ev, if it is due.
func (p *progress) line(ev run.Event) {
	switch ev.Stage {
	case "load":
		fmt.Fprintf(p.w, "task %s: loading dataset\n", ev.Task)
		return
	case "score":
		fmt.Fprintf(p.w, "%s: scoring\n", eventLabel(ev))
		return
	case "done":
		fmt.Fprintf(p.w, "%s: done\n", eventLabel(ev))
		return
	case "resumed":
		fmt.Fprintf(p.w, "%s: %s\n", eventLabel(ev), resumedNote)
		return
	}
	now := p.now()
	st, first := p.stage(ev, now)
	final := ev.Done >= ev.Total
	if !first && (final && st.final || !final && now.Sub(st.last) < p.every) {
		return
	}
	st.last, st.final = now, final
	fmt.Fprintf(p.w, "%s: %s %d/%d%s\n", eventLabel(ev), ev.Stage, ev.Done, ev.Total, stageStats(st, ev, now))
}

// stage returns the state of ev's stage and whether ev is its first event.
func (p *progress) stage(ev run.Event, now time.Time) (*stageState, bool) {
	k := stageKey{ev.Model, ev.Task, ev.Stage}
	if st, ok := p.stages[k]; ok {
		return st, false
	}
	st := &stageState{start: now, startDone: ev.Done}
	p.stages[k] = st
	return st, true
}

// eventLabel names the model × task of ev ("biomedclip · vqa-rad"), or the one of the two it has.
func eventLabel(ev run.Event) string {
	switch {
	case ev.Task == "":
		return ev.Model
	case ev.Model == "":
		return ev.Task
	}
	return ev.Model + " · " + ev.Task
}

// stageStats is the parenthesised statistics of an encoding event: the rate of the inputs encoded since the
// stage's first event, the inputs found in the cache, and the time left (or, at the end, the time taken). Empty
// when there is nothing to say.
func stageStats(st *stageState, ev run.Event, now time.Time) string {
	var parts []string
	elapsed := now.Sub(st.start)
	var rate float64
	if encoded := ev.Done - st.startDone; elapsed > 0 && encoded > 0 {
		rate = float64(encoded) / elapsed.Seconds()
		parts = append(parts, formatRate(rate))
	}
	if ev.Cached > 0 {
		parts = append(parts, fmt.Sprintf("%d cached", ev.Cached))
	}
	if ev.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d bad, skipped", ev.Skipped))
	}
	switch {
	case ev.Done >= ev.Total && elapsed > 0:
		parts = append(parts, "in "+formatDuration(elapsed))
	case ev.Done < ev.Total && rate > 0:
		parts = append(parts, "ETA "+formatDuration(time.Duration(float64(ev.Total-ev.Done)/rate*float64(time.Second))))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// formatRate formats items per second: whole numbers from 10/s, two significant digits below (5.5/s, 0.038/s).
func formatRate(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f/s", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "/s"
}

// formatDuration formats d in whole seconds (34s, 1m12s), "<1s" below half a second.
func formatDuration(d time.Duration) string {
	if d = d.Round(time.Second); d == 0 {
		return "<1s"
	}
	return d.String()
}

// bar updates the bars with ev: a bar per model × task × kind with its counts and statistics, a line per task
// loading its dataset and per model × task scoring. Any event ends the load line before it, as the run emits them
// in order.
func (p *progress) bar(ev run.Event) {
	if p.loading != nil {
		p.loading.SetTotal(-1, true)
		p.loading = nil
	}
	switch ev.Stage {
	case "load":
		p.loading = p.addLine(fmt.Sprintf("task %s: ", ev.Task), "loading dataset", "loaded")
		return
	case "score":
		st, _ := p.stage(ev, p.now())
		st.bar = p.addLine(eventLabel(ev)+": ", "scoring", "done")
		return
	case "done":
		if st, ok := p.stages[stageKey{ev.Model, ev.Task, "score"}]; ok && st.bar != nil {
			st.bar.SetTotal(-1, true)
		}
		return
	case "resumed":
		p.addLine(eventLabel(ev)+": ", resumedNote, resumedNote).SetTotal(-1, true)
		return
	}
	now := p.now()
	st, _ := p.stage(ev, now)
	info := strings.TrimPrefix(stageStats(st, ev, now), " ")
	st.info.Store(&info)
	if st.bar == nil {
		if ev.Total <= 0 {
			return
		}
		p.start()
		stats := func(decor.Statistics) string { return *st.info.Load() }
		st.bar = p.bars.AddBar(int64(ev.Total), mpb.BarWidth(40), // labels and counts aligned across the bars (WCSync)
			mpb.PrependDecorators(decor.Name(eventLabel(ev)+" "+ev.Stage, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncWidth)),
			mpb.AppendDecorators(decor.Any(stats)))
		p.made = append(p.made, st.bar)
	}
	st.bar.SetCurrent(int64(ev.Done))
}

// addLine adds a bar without a filler that reads prefix then running, and prefix then finished once complete.
func (p *progress) addLine(prefix, running, finished string) *mpb.Bar {
	p.start()
	b := p.bars.New(1, mpb.NopStyle(), mpb.BarFillerTrim(), mpb.PrependDecorators(decor.Name(prefix), decor.OnComplete(decor.Name(running), finished)))
	p.made = append(p.made, b)
	return b
}

// start starts the bar container and its redraw ticks, once. The mode says w is a terminal, so the container
// draws whatever w is (ForceTTY: in place, moving the cursor up). Redraws are driven from here rather than by mpb's
// own ticker so that close can ask for a last one: log lines written above the bars show at the next redraw.
func (p *progress) start() {
	if p.bars != nil {
		return
	}
	p.redraw, p.stopRedraw, p.redrawDone = make(chan any), make(chan struct{}), make(chan struct{})
	opts := []mpb.ContainerOption{mpb.WithOutput(p.w), mpb.ForceTTY(), mpb.WithManualRefresh(p.redraw)}
	p.bars = mpb.New(append(opts, p.barOpts...)...)
	go func() {
		defer close(p.redrawDone)
		tick := time.NewTicker(p.redrawRate)
		defer tick.Stop()
		for {
			select {
			case t := <-tick.C:
				select {
				case p.redraw <- t:
				case <-p.stopRedraw:
					return
				}
			case <-p.stopRedraw:
				return
			}
		}
	}()
}

// Write writes log lines: above the bars while they run, else straight to w. The plugins' warnings come this way.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bars != nil && !p.closed {
		return p.bars.Write(b)
	}
	return p.w.Write(b)
}

// close ends the display: bars left unfinished (a failed run) stay as they were, and the last frame is drawn.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.bars == nil {
		return
	}
	close(p.stopRedraw)
	<-p.redrawDone
	for _, b := range p.made {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	select { // the last frame, with the log lines not yet shown
	case p.redraw <- time.Now():
	case <-time.After(time.Second): // the container stopped on a write error
	}
	p.bars.Wait()
}
