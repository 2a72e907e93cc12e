// Command clipeval evaluates CLIP-style vision-language models on benchmark tasks, with model backends and tasks
// as plugins. Run `clipeval help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clipeval/clipeval/harness/config"
)

// version is the clipeval version; `make` sets it from git with -ldflags.
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the work ran but something failed (a run, a check)
	exitBadUser = 2 // bad input: usage, config, missing files
)

// usageError marks an error caused by the command line or the inputs (exit 2).
type usageError struct{ error }

func badInput(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usage = `clipeval evaluates CLIP-style vision-language models (BiomedCLIP, OpenAI CLIP) with plugins.

Commands:
  clipeval run CONFIG [--out DIR] [--plugin-dir DIR] [--baseline BASELINE.json]
      run every model on every task; writes DIR/results.json, DIR/report.md, DIR/report.html and DIR/plots/;
      with --baseline also compares with it as clipeval compare does (DIR/junit.xml, DIR/compare.md; exit 1 on a
      regression)
  clipeval validate CONFIG [--plugin-dir DIR]
      check a config: unknown keys, wrong types, missing files (file:line:col: message; exit 2)
  clipeval plugins [--plugin-dir DIR]
      list the plugins found, their kind and protocol version
  clipeval embed --model DIR (--images FILE... | --texts FILE.json) --out OUT.npy [--backend onnx] [--option K=V]
      write the raw embeddings (float32 [N,d]) of images or texts as .npy
  clipeval preprocess --model DIR --out OUT.npy IMAGE...
      write the pixels the image tower is fed (float32 [N,3,H,W], open_clip's eval transform)
  clipeval tokenize --model DIR --texts FILE.json --out OUT.npy
      write the token ids the text tower is fed (int64 [N,context_length])
  clipeval golden --model DIR [--images FILE...] [--texts FILE.json] --out GOLDEN.npz
      store inputs (pixels, token_ids) and outputs (image_embeds, text_embeds) of a trusted model
  clipeval verify-export --model DIR --golden GOLDEN.npz [--atol A --rtol R --min-cosine C]
      run an export on a golden's inputs and compare with its outputs: PASS/FAIL per output
      (defaults fit fp32: --atol 1e-5 --rtol 1e-4 --min-cosine 0.99999; fp16: --atol 1e-2 --rtol 1e-2 --min-cosine 0.999)
      --junit FILE also writes JUnit XML, one test case per output
  clipeval report RESULTS.json... --out DIR
      re-render report.md, report.html and plots/ from saved results; several files make one merged report
  clipeval compare BASELINE.json CURRENT.json [--tolerance POINTS] [--metric NAME]... [--junit FILE] [--markdown FILE]
      regression gate per model × task × metric (default: headline metrics): delta, paired bootstrap 95% CI and p
      when both saved per-item values; FAIL when current < baseline − tolerance (percentage points; default:
      CURRENT's compare: tolerances) or when a baseline model, task or metric is missing from CURRENT
  clipeval version

Exit codes: 0 success, 1 a run or check failed, 2 bad input.
Environment: CLIPEVAL_PLUGIN_DIR (plugin folder, default bin/plugins beside clipeval),
  CLIPEVAL_ORT_LIB (ONNX Runtime library, default bin/lib/libonnxruntime.so.1).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs one command and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadUser
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout)
	case "plugins":
		err = cmdPlugins(ctx, args[1:], stdout)
	case "embed":
		err = cmdEmbed(ctx, args[1:], stdout, stderr)
	case "preprocess":
		err = cmdPreprocess(ctx, args[1:], stdout, stderr)
	case "tokenize":
		err = cmdTokenize(ctx, args[1:], stdout, stderr)
	case "golden":
		err = cmdGolden(ctx, args[1:], stdout, stderr)
	case "verify-export":
		err = cmdVerifyExport(ctx, args[1:], stdout, stderr)
	case "report":
		err = cmdReport(ctx, args[1:], stdout)
	case "compare":
		err = cmdCompare(ctx, args[1:], stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "clipeval", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "clipeval: unknown command %q\n\n%s", args[0], usage)
		return exitBadUser
	}
	return report(err, stderr)
}

// report prints err and maps it to an exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var problems config.Problems
	var ue usageError
	switch {
	case errors.Is(err, errVerifyFailed):
		fmt.Fprintln(stderr, "clipeval:", err)
		return exitFailed
	case errors.As(err, &problems):
		fmt.Fprintln(stderr, problems.Error())
		fmt.Fprintf(stderr, "clipeval: %d problem(s) in the config\n", len(problems))
		return exitBadUser
	case errors.As(err, &ue), errors.Is(err, flag.ErrHelp):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "clipeval:", err)
		}
		return exitBadUser
	}
	fmt.Fprintln(stderr, "clipeval:", err)
	return exitFailed
}

// parse parses flags that may come before, between or after the positional arguments, and returns the positionals.
// Values of the flags named in multi are every following argument up to the next flag.
func parse(fs *flag.FlagSet, args []string, multi map[string]*[]string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if dst, ok := multi[name]; ok && strings.HasPrefix(a, "-") {
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				*dst = append(*dst, args[i])
			}
			continue
		}
		rest = append(rest, a)
	}
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	return pos, nil
}
