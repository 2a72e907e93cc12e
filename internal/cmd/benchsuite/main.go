// Command benchsuite runs `make bench`: every speed goal measured side by side with its reference in one run
// (see internal/benchsuite), printed as it goes and written with the machine and the date into BENCHMARKS.md.
//
//	go run -tags openblas ./internal/cmd/benchsuite [-shared DIR] [-model DIR] [-threads N] [-only a,b] [-write FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/clipeval/clipeval/internal/benchsuite"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		os.Exit(1)
	}
}

func run() error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	shared := flag.String("shared", filepath.Join(repo, "..", "shared"), "the shared folder (VQA-RAD images and questions)")
	model := flag.String("model", filepath.Join(repo, ".cache", "bench-model", "biomedclip-vit-b16"), "the bench model folder (make bench-model)")
	threads := flag.Int("threads", runtime.NumCPU(), "threads every engine is given")
	only := flag.String("only", "", "comma-separated measurements to run (default all): "+keys())
	write := flag.String("write", "", "write the results into this file's make-bench section (e.g. BENCHMARKS.md)")
	python := flag.String("python", "/usr/bin/python3", "Python with Debian's python3-numpy, -pil, -torch and -onnx")
	quick := flag.Bool("quick", false, "small inputs: checks that every measurement runs, not numbers to publish")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (run from the repository root; see -h)", flag.Args())
	}
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		return fmt.Errorf("run from the repository root (no go.mod in %s)", repo)
	}
	// The bare references run without ONNX Runtime's telemetry, as clipeval's backend does, so that the ratios
	// measure clipeval's own work.
	if _, set := os.LookupEnv("ORT_DISABLE_TELEMETRY"); !set {
		os.Setenv("ORT_DISABLE_TELEMETRY", "1")
	}
	ort := os.Getenv("CLIPEVAL_ORT_LIB")
	if ort == "" {
		ort = filepath.Join(repo, "bin", "lib", "libonnxruntime.so.1")
	}
	env := &benchsuite.Env{Repo: repo, Bin: filepath.Join(repo, "bin"), Shared: *shared, ORTLib: ort, Python: *python,
		Threads: *threads, Quick: *quick, Log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}}
	if st, err := os.Stat(*model); err == nil && st.IsDir() {
		env.BenchModel = *model
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	at := time.Now()
	rows := benchsuite.Run(ctx, env, names)
	section := benchsuite.Markdown(rows, benchsuite.Machine(), at)
	fmt.Print(section)
	if *write != "" && !*quick {
		if err := benchsuite.WriteSection(*write, section); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "written to %s\n", *write)
	}
	return ctx.Err()
}

func keys() string {
	var k []string
	for _, m := range benchsuite.Measurements() {
		k = append(k, m.Key)
	}
	return strings.Join(k, ", ")
}
