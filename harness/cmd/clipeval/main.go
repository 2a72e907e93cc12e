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
	"github.com/clipeval/clipeval/plugins/sdk"
)

// version is the clipeval version; `make` sets it from git with -ldflags.
var version = "0.1.0-dev"

// Exit codes; a command stopped by a signal exits 128 + the signal's number (interrupted.code).
const (
	exitOK      = 0
	exitFailed  = 1 // the work ran but something failed (a run, a check)
	exitBadUser = 2 // bad input: usage, config, missing files, an input a plugin refused (sdk.IsInvalidInput)
)

// interrupted is the cause of a command's context once a signal stopped it.
type interrupted struct{ sig syscall.Signal }

// Error names the signal.
func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// code is the exit code of a command the signal stopped: 130 for SIGINT, 143 for SIGTERM.
func (i interrupted) code() int { return 128 + int(i.sig) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// stoppedError is what a command stopped by a signal kept and how to go on, for the message that replaces its
// error.
type stoppedError struct {
	kept string
	err  error
}

func (e stoppedError) Error() string { return e.kept }
func (e stoppedError) Unwrap() error { return e.err }

// onSignals cancels the command's context at the first SIGINT or SIGTERM, so that it stops its plugins, keeps
// what is finished and exits 130 or 143; a second signal exits at once (the plugins end with clipeval: see
// pluginhost).
func onSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, stderr io.Writer) {
	first := interrupted{asSyscall(<-sigs)}
	cancel(first)
	fmt.Fprintf(stderr, "\nclipeval: %s: stopping the plugins and keeping what is finished (%s again to stop at once)\n", first, signalName(first.sig))
	second := interrupted{asSyscall(<-sigs)}
	fmt.Fprintf(stderr, "clipeval: %s again: stopping at once\n", second)
	os.Exit(second.code())
}

func asSyscall(s os.Signal) syscall.Signal {
	if n, ok := s.(syscall.Signal); ok {
		return n
	}
	return syscall.SIGINT
}

// usageError marks an error caused by the command line or the inputs (exit 2).
type usageError struct{ error }

func badInput(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// command is one subcommand: what the command list and `clipeval CMD --help` say about it, and the function that
// runs it. run defines its flags on fs (named after the command, with the command's usage) before anything else and
// parses them with parse, so that --help returns before any work.
type command struct {
	name string
	// synopsis is the command line after `clipeval NAME`.
	synopsis string
	// desc says what the command does, one or more lines.
	desc string
	run  func(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
}

// commands is every subcommand, in the order the command list shows them; execute dispatches from it.
func commands() []command {
	return []command{
		{"run", "CONFIG [--out DIR] [--plugin-dir DIR] [--baseline BASELINE.json] [--quiet] [--cache-dir DIR | --no-cache] [--fresh] [--call-timeout D] [--attempts N] [--shard I/N]",
			"run every model on every task; writes DIR/results.json, DIR/report.md, DIR/report.html and DIR/plots/;\n" +
				"with --baseline also compares with it as clipeval compare does (DIR/junit.xml, DIR/compare.md; exit 1 on a\n" +
				"regression); progress on stderr: bars on a terminal, else a line per stage at most every second.\n" +
				"Embeddings are kept in the embedding store and read back on later runs; a re-run into the same DIR keeps\n" +
				"the finished model × task runs whose model, task, options and data are unchanged (--fresh: none).\n" +
				"A plugin that crashes or hangs is killed, started again and its call retried (--attempts); Ctrl-C or\n" +
				"SIGTERM stops the plugins, keeps what finished in results.json and exits 130 / 143 (twice: at once).\n" +
				"--shard I/N encodes only shard I of N of every dataset into DIR/shards/ (a complete shard is skipped when\n" +
				"run again); clipeval merge DIR scores them once all are there", cmdRun},
		{"merge", "DIR [--out OUT] [--config FILE] [--plugin-dir DIR] [--baseline BASELINE.json] [--quiet] [--fresh]",
			"score and report a sharded run: DIR is the --out of `clipeval run CONFIG --shard I/N`, whose shards are in\n" +
				"DIR/shards/; checks that all N are there once and agree (config, model fingerprints, data sets, ranges),\n" +
				"then writes results.json and the reports into OUT (default DIR), the same as one unsharded run would", cmdMerge},
		{"validate", "CONFIG [--plugin-dir DIR]",
			"check a config and its tasks against their plugins (YAML syntax, unknown keys, wrong types, values out of\n" +
				"range, missing files): every problem at once, as file:line:col: message sorted by position; exit 2", cmdValidate},
		{"plugins", "[--plugin-dir DIR] | --check [--dataset FILE] [--model DIR] PLUGIN... | --write-sums PLUGIN...",
			"list the plugins found, their kind, protocol and version (only those the folder's SHA256SUMS lists with\n" +
				"their checksum are run); with --check run the conformance suite on plugin executables (handshake,\n" +
				"Describe, schema, error behaviour, streams and large data); with --write-sums record plugin executables\n" +
				"in their folder's SHA256SUMS, as make build does", cmdPlugins},
		{"embed", "--model DIR (--images FILE... | --texts FILE.json) --out OUT.npy [--backend onnx] [--option K=V] [--quiet]",
			"write the raw embeddings (float32 [N,d]) of images or texts as .npy", cmdEmbed},
		{"serve", "--model DIR [--listen HOST:PORT] [--name NAME] [--backend onnx] [--option K=V] [--tls-cert F --tls-key F] [--token T | --token-file F] [--max-message-mb N]",
			"serve the model's two towers over the Open Inference Protocol (KServe v2 gRPC, as Triton serves it): models\n" +
				"NAME-image (pixels FP32 [-1,3,H,W]) and NAME-text (input_ids INT64 [-1,L]), each answering embeddings FP32\n" +
				"[-1,D], so that a GPU machine encodes for others (backend: kserve, option url=HOST:PORT; docs/kserve.md);\n" +
				"until Ctrl-C or SIGTERM", cmdServe},
		{"preprocess", "--model DIR --out OUT.npy IMAGE...",
			"write the pixels the image tower is fed (float32 [N,3,H,W], open_clip's eval transform)", cmdPreprocess},
		{"tokenize", "--model DIR --texts FILE.json --out OUT.npy",
			"write the token ids the text tower is fed (int64 [N,context_length])", cmdTokenize},
		{"golden", "--model DIR [--images FILE...] [--texts FILE.json] --out GOLDEN.npz",
			"store inputs (pixels, token_ids) and outputs (image_embeds, text_embeds) of a trusted model", cmdGolden},
		{"verify-export", "--model DIR --golden GOLDEN.npz [--atol A --rtol R --min-cosine C] [--junit FILE]",
			"run an export on a golden's inputs and compare with its outputs: PASS/FAIL per output\n" +
				"(defaults fit fp32: --atol 1e-5 --rtol 1e-4 --min-cosine 0.99999; fp16: --atol 1e-2 --rtol 1e-2 --min-cosine 0.999)\n" +
				"--junit FILE also writes JUnit XML, one test case per output", cmdVerifyExport},
		{"report", "RESULTS.json... --out DIR",
			"re-render report.md, report.html and plots/ from saved results; several files make one merged report", cmdReport},
		{"compare", "BASELINE.json CURRENT.json [--tolerance AMOUNT] [--metric NAME]... [--junit FILE] [--markdown FILE]",
			"regression gate per model × task × metric (default: headline metrics): delta, paired bootstrap 95% CI and p\n" +
				"when both saved per-item values; FAIL when a metric worsens in its declared direction by more than its\n" +
				"tolerance (in its unit: percentage points for fractions, ranks for ranks; default: CURRENT's compare:\n" +
				"tolerances) or when a baseline model, task or metric is missing from CURRENT", cmdCompare},
		{"cache", "stats | verify | prune (--model FINGERPRINT | --unused-for AGE | --all) [--cache-dir DIR]",
			"inspect and maintain the embedding store every run on the machine shares: stats lists its models, entries and\n" +
				"size; verify checks every entry and removes the corrupt ones (exit 1 when it found any); prune removes\n" +
				"models by fingerprint, by last use or all, and shrinks the file", cmdCache},
		{"version", "", "print the clipeval version", cmdVersion},
		{"help", "[CMD]", "list the commands, or print one command's usage, flags and defaults", cmdHelp},
	}
}

// lookup returns the command named name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is the command list: `clipeval help`, `clipeval --help`, and stderr on a bad command.
func usage() string {
	var b strings.Builder
	b.WriteString("clipeval evaluates CLIP-style vision-language models (BiomedCLIP, OpenAI CLIP) with plugins.\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace("clipeval "+c.name+" "+c.synopsis))
		for _, line := range strings.Split(c.desc, "\n") {
			fmt.Fprintf(&b, "      %s\n", line)
		}
	}
	b.WriteString(`
Run clipeval CMD --help (or clipeval help CMD) for a command's flags and their defaults.
Exit codes: 0 success, 1 a run or check failed, 2 bad input, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
Environment: CLIPEVAL_PLUGIN_DIR (plugin folder, default bin/plugins beside clipeval),
  CLIPEVAL_ORT_LIB (ONNX Runtime library, default bin/lib/libonnxruntime.so.1),
  CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 (start plugins missing from the folder's SHA256SUMS; development only).
`)
	return b.String()
}

// flagSet returns the command's flag set, whose Usage prints the command's usage (synopsis, what it does, its flags
// with their defaults) to the set's output.
func (c command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprint(fs.Output(), c.usage(fs)) }
	return fs
}

// usage formats the command's usage from the flags defined on fs.
func (c command) usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", strings.TrimSpace("clipeval "+c.name+" "+c.synopsis), c.desc)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if n == 0 {
			b.WriteString("\nFlags:\n")
		}
		n++
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  %s\n      %s", strings.TrimSpace("--"+f.Name+" "+name), help)
		switch f.DefValue {
		case "", "0", "false", "[]", "map[]":
		default:
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// help returns the command's usage as `clipeval CMD --help` prints it: run defines the flags and stops at --help.
func (c command) help(ctx context.Context) string {
	fs := c.flagSet()
	_ = c.run(ctx, fs, []string{"--help"}, io.Discard, io.Discard)
	return c.usage(fs)
}

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel(nil)
	os.Exit(code)
}

// execute runs one command and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitBadUser
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args = append([]string{"help"}, args[1:]...)
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "clipeval: unknown command %q\n\n%s", args[0], usage())
		return exitBadUser
	}
	fs := c.flagSet()
	err := c.run(ctx, fs, args[1:], stdout, stderr)
	var fe flagError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "clipeval: %v\n\n", err)
		fs.SetOutput(stderr)
		fs.Usage()
		return exitBadUser
	}
	var intr interrupted
	if err != nil && errors.As(context.Cause(ctx), &intr) {
		// Whatever the error says (a cancelled call, a config problem of a plugin that was asked while stopping),
		// the command did not fail: it was stopped.
		var stopped stoppedError
		if errors.As(err, &stopped) {
			fmt.Fprintf(stderr, "clipeval: %s: %s\n", intr, stopped.kept)
		} else {
			fmt.Fprintf(stderr, "clipeval: %s: %s stopped before it finished\n", intr, c.name)
		}
		return intr.code()
	}
	return report(err, stderr)
}

func cmdVersion(_ context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("version takes no arguments, got %q", pos)
	}
	fmt.Fprintln(stdout, "clipeval", version)
	return nil
}

func cmdHelp(ctx context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		fmt.Fprint(stdout, usage())
		return nil
	case 1:
		c, ok := lookup(pos[0])
		if !ok {
			return badInput("help: unknown command %q (clipeval help lists them)", pos[0])
		}
		fmt.Fprint(stdout, c.help(ctx))
		return nil
	}
	return badInput("help takes at most one command, got %q", pos)
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
		fmt.Fprintln(stderr, problems.Sorted().Error())
		fmt.Fprintf(stderr, "clipeval: %d problem(s) in the config\n", len(problems))
		return exitBadUser
	case errors.As(err, &ue), sdk.IsInvalidInput(err): // the latter: a plugin refused an input (a corrupt image, a broken model folder)
		fmt.Fprintln(stderr, "clipeval:", err)
		return exitBadUser
	}
	fmt.Fprintln(stderr, "clipeval:", err)
	return exitFailed
}

// flagError is a command line its command's flags reject (exit 2, with the command's usage on stderr).
type flagError struct{ error }

// listFlag is a flag that takes every following argument up to the next flag (--images a.png b.png); parse
// collects them. Repeating the flag, or --flag=VALUE, adds one value.
type listFlag []string

// String joins the values with spaces.
func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, " ")
}

// Set adds one value.
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// parse parses flags that may come before, between or after the positional arguments, and returns the positionals.
// A listFlag takes every following argument up to the next flag. -h or --help anywhere returns an error wrapping
// flag.ErrHelp; a flag fs does not accept returns a flagError.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if f := fs.Lookup(strings.TrimLeft(a, "-")); f != nil && strings.HasPrefix(a, "-") {
			if l, ok := f.Value.(*listFlag); ok {
				for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					i++
					*l = append(*l, args[i])
				}
				continue
			}
		}
		rest = append(rest, a)
	}
	for len(rest) > 0 {
		if err := fs.Parse(rest); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, flagError{fmt.Errorf("%s: %w", fs.Name(), err)}
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	return pos, nil
}
