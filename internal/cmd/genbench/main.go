// Command genbench writes the benchmark model folder (package internal/benchmodel): a BiomedCLIP-shaped model pair
// with seeded random weights (image.onnx ≈ 350 MB, text.onnx ≈ 440 MB at full size), open_clip_config.json and the
// BERT tokenizer files copied from an existing BiomedCLIP folder. It does nothing when the folder is already up to
// date (same generator version, configuration and tokenizer folder; files of the recorded sizes).
//
//	go run ./internal/cmd/genbench [-out DIR] [-tokenizer DIR] [-config FILE.json] [-seed N] [-gelu erf|op] [-force]
//
// Relative default paths are relative to the repository root: -out .cache/bench-model/biomedclip-vit-b16 and
// -tokenizer ../shared/fixtures/tiny-a/biomedclip ($CLIPEVAL_SHARED/fixtures/tiny-a/biomedclip when set).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/clipeval/clipeval/internal/benchmodel"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "genbench:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) error {
	root := repoRoot()
	fs := flag.NewFlagSet("genbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", filepath.Join(root, ".cache", "bench-model", "biomedclip-vit-b16"), "write the model folder to `DIR`")
	tok := fs.String("tokenizer", defaultTokenizer(root), "copy the BERT tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json) from `DIR`")
	cfgFile := fs.String("config", "", "read the configuration from `FILE.json` (benchmodel.Config fields; absent ones keep BiomedCLIP's)")
	seed := fs.Uint64("seed", 0, "weights seed (0: the configuration's, 1 for BiomedCLIP's)")
	gelu := fs.String("gelu", "", "GELU as `erf` (Div/Erf/Mul, opset 17) or op (the Gelu operator, opset 20); default the configuration's")
	force := fs.Bool("force", false, "write the folder even when it is up to date")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	cfg := benchmodel.BiomedCLIP()
	if *cfgFile != "" {
		raw, err := os.ReadFile(*cfgFile)
		if err != nil {
			return usageError{fmt.Errorf("configuration: %w", err)}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return usageError{fmt.Errorf("configuration %s: %w", *cfgFile, err)}
		}
	}
	if *seed != 0 {
		cfg.Seed = *seed
	}
	if *gelu != "" {
		cfg.GELU = benchmodel.GELU(*gelu)
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if !*force {
		ok, reason, err := benchmodel.UpToDate(*out, cfg, *tok)
		if err != nil {
			return err
		}
		if ok {
			fmt.Fprintf(stdout, "%s is up to date (generator version %d)\n", *out, benchmodel.Version)
			return nil
		}
		fmt.Fprintf(stdout, "generating %s: %s\n", *out, reason)
	}
	start := time.Now()
	stamp, err := benchmodel.WriteFolder(*out, cfg, *tok, stdout)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range stamp.Files {
		total += f.Size
	}
	fmt.Fprintf(stdout, "wrote %s: %d files, %.1f MB in %.1fs\n", *out, len(stamp.Files), float64(total)/1e6, time.Since(start).Seconds())
	return nil
}

// repoRoot is the nearest folder at or above the working directory holding go.mod, else the working directory.
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

// defaultTokenizer is the tiny-a BiomedCLIP fixture's folder: its tokenizer is BiomedBERT's layout (12,000 tokens).
func defaultTokenizer(root string) string {
	shared := os.Getenv("CLIPEVAL_SHARED")
	if shared == "" {
		shared = filepath.Join(root, "..", "shared")
	}
	return filepath.Join(shared, "fixtures", "tiny-a", "biomedclip")
}
