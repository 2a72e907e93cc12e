// Package benchsuite is `make bench`: every speed goal of clipeval measured side by side with what it is held
// against, in one run on one machine, and written with the machine and the date into BENCHMARKS.md.
//
// Each measurement times clipeval's path and its reference alternately (so that a drift in the machine's load
// touches both) and reports their ratio beside its goal. A measurement whose inputs are missing (no bench model,
// no Python module) is reported as not run, with the reason, rather than failing the others.
package benchsuite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Env is what the measurements run against.
type Env struct {
	// Repo is the repository root; Bin its bin/ folder (clipeval and plugins/, as `make build` writes them).
	Repo, Bin string
	// Shared is the ../shared folder (VQA-RAD, fixtures); BenchModel the full-size model `make bench-model` writes.
	Shared, BenchModel string
	// ORTLib is the ONNX Runtime library; Python the interpreter with Debian's python3-pil, -numpy and -torch.
	ORTLib, Python string
	// Threads is the thread count every engine is given (clipeval's backend, the bare loop, torch, numpy).
	Threads int
	// Quick shrinks every measurement's inputs (for the suite's own test); the numbers are then not the ones to
	// publish.
	Quick bool
	// Log receives one progress line per step.
	Log func(format string, args ...any)
}

// Row is one measured ratio and its goal.
type Row struct {
	// Name is what was measured; Ours and Ref what clipeval and the reference took or did, in Unit.
	Name      string
	Ours, Ref float64
	Unit      string
	// Ratio is what the goal is set on, as RatioIs says (e.g. "clipeval / bare loop" of throughputs); Goal is its
	// least value, or with GoalMax its most.
	Ratio, Goal float64
	RatioIs     string
	GoalMax     bool
	// Detail says how it was measured; Skipped, when set, is why it was not.
	Detail, Skipped string
}

// Met reports whether the row meets its goal.
func (r Row) Met() bool {
	if r.Skipped != "" {
		return false
	}
	if r.GoalMax {
		return r.Ratio <= r.Goal
	}
	return r.Ratio >= r.Goal
}

// Measurement is one entry of the suite.
type Measurement struct {
	// Key names it on the command line (-only).
	Key string
	// Run measures; it returns one or more rows.
	Run func(ctx context.Context, env *Env) ([]Row, error)
}

// Measurements returns the suite, in the order BENCHMARKS.md lists it.
func Measurements() []Measurement {
	return []Measurement{
		{"demo", demoRun},
		{"preprocess", preprocessVsPillow},
		{"ranking", rankingVsNumpy},
		{"ipc", ipcShare},
		{"encode", encodeVsBare},
		{"padding", textPadding},
		{"open", modelOpen},
	}
}

// Run runs the measurements named in only (all when empty) and returns their rows; a measurement that fails is
// a row saying why.
func Run(ctx context.Context, env *Env, only []string) []Row {
	var rows []Row
	for _, m := range Measurements() {
		if len(only) > 0 && !slices.Contains(only, m.Key) {
			continue
		}
		env.logf("%s: measuring", m.Key)
		start := time.Now()
		got, err := m.Run(ctx, env)
		if err != nil {
			got = append(got, Row{Name: m.Key, Skipped: err.Error()})
		}
		for _, r := range got {
			env.logf("%s: %s", m.Key, r.summary())
		}
		env.logf("%s: %.0f s", m.Key, time.Since(start).Seconds())
		rows = append(rows, got...)
	}
	return rows
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		e.Log(format, args...)
	}
}

func (r Row) summary() string {
	if r.Skipped != "" {
		return r.Name + ": not run: " + r.Skipped
	}
	verdict := "met"
	if !r.Met() {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%s: %s vs %s %s, ratio %.3g (goal %s) %s", r.Name, num(r.Ours), num(r.Ref), r.Unit, r.Ratio, r.goal(), verdict)
}

func (r Row) goal() string {
	if r.GoalMax {
		return fmt.Sprintf("≤ %g", r.Goal)
	}
	return fmt.Sprintf("≥ %g", r.Goal)
}

// num formats a measured value with three significant digits.
func num(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.3g", v), ".0") }

// Markdown returns the BENCHMARKS.md section of rows: the machine, the date, then one table line per row.
func Markdown(rows []Row, machine string, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s. Run: %s.\n\n", machine, at.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("| measurement | clipeval | reference | unit | ratio | ratio is | goal | met | how |\n")
	b.WriteString("| --- | ---: | ---: | --- | ---: | --- | --- | --- | --- |\n")
	for _, r := range rows {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | — | — | | | | | not run | %s |\n", cell(r.Name), cell(r.Skipped))
			continue
		}
		met := "yes"
		if !r.Met() {
			met = "**no**"
		}
		ref := "—"
		if r.Ref != 0 {
			ref = num(r.Ref)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.3g | %s | %s | %s | %s |\n", cell(r.Name), num(r.Ours), ref, r.Unit, r.Ratio,
			cell(r.RatioIs), r.goal(), met, cell(r.Detail))
	}
	return b.String()
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markers delimit the section of BENCHMARKS.md that WriteSection replaces.
const (
	BeginMarker = "<!-- make bench: begin (written by internal/cmd/benchsuite; edits inside are overwritten) -->"
	EndMarker   = "<!-- make bench: end -->"
)

// WriteSection puts section between the markers of the file at path (appending a titled section with them when
// the file has none), writing a temporary file and renaming it over path.
func WriteSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	block := BeginMarker + "\n" + section + EndMarker + "\n"
	var out []byte
	if i, j := bytes.Index(old, []byte(BeginMarker)), bytes.Index(old, []byte(EndMarker)); i >= 0 && j > i {
		out = append(append(append([]byte{}, old[:i]...), block...), bytes.TrimPrefix(old[j+len(EndMarker):], []byte("\n"))...)
	} else {
		out = append(append([]byte{}, old...), "\n## `make bench`: the speed goals side by side\n\n"+block...)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".benchmarks-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// Machine describes this machine in one line: CPU model, cores, memory, OS, Go version.
func Machine() string {
	cpu, mem := "unknown CPU", ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			var kb float64
			if _, err := fmt.Sscanf(l, "MemTotal: %f kB", &kb); err == nil {
				mem = fmt.Sprintf(", %.0f GiB memory", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s, %s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// againstNeighbours returns, for each ours[k], its ratio to the mean of refs[k] and refs[k+1], the reference runs
// just before and just after it (len(refs) = len(ours)+1): a drift of the machine's speed that is linear over the
// three cancels.
func againstNeighbours(ours, refs []float64) []float64 {
	ratios := make([]float64, len(ours))
	for k, o := range ours {
		ratios[k] = o / ((refs[k] + refs[k+1]) / 2)
	}
	return ratios
}

// median returns the median of xs (0 for none), leaving xs as it is.
func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	sort.Float64s(xs)
	n := len(xs)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
