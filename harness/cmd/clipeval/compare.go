package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/clipeval/clipeval/harness/compare"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
	"github.com/clipeval/clipeval/reports"
)

// errRegression marks a comparison in which some metric failed its gate (exit 1).
var errRegression = errors.New("regression gate failed")

// readResults reads a results.json named on the command line; a missing or malformed file is bad input.
func readResults(cmd, path string) (*results.Results, error) {
	r, err := results.Read(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w (give a results.json written by clipeval run)", cmd, err)}
	}
	return r, nil
}

func cmdCompare(_ context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	var opts compare.Options
	fs.Func("tolerance", "absolute tolerance `AMOUNT` of every metric in its display unit: percentage points for fractions, ranks for ranks (default: CURRENT's compare: tolerances)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("want a non-negative number (percentage points for fractions), have %q", s)
		}
		opts.Tolerance = &v
		return nil
	})
	fs.Func("metric", "compare the metric `NAME` (repeatable; default: each run's headline metrics)", func(s string) error {
		opts.Metrics = append(opts.Metrics, s)
		return nil
	})
	junitPath := fs.String("junit", "", "write JUnit XML to `FILE`")
	mdPath := fs.String("markdown", "", "write the Markdown table to `FILE`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return badInput("compare: usage: clipeval compare BASELINE.json CURRENT.json [--tolerance AMOUNT] [--metric NAME]... [--junit FILE] [--markdown FILE]")
	}
	base, err := readResults("compare", pos[0])
	if err != nil {
		return err
	}
	cur, err := readResults("compare", pos[1])
	if err != nil {
		return err
	}
	rep, err := gate(base, cur, opts, pos[0], pos[1], *junitPath, *mdPath)
	if rep != nil {
		fmt.Fprint(stdout, rep.Markdown(pos[0], pos[1]))
		fmt.Fprintf(stdout, "\ncompare: %s\n", rep.Summary())
	}
	return err
}

// gate compares current with baseline (named baseName and curName in the outputs), writes the JUnit XML and the
// Markdown table where paths are given, and returns the report, with an error wrapping errRegression when a
// comparison failed.
func gate(base, cur *results.Results, opts compare.Options, baseName, curName, junitPath, mdPath string) (*compare.Report, error) {
	rep, err := compare.Compare(base, cur, opts)
	if err != nil {
		return nil, usageError{err}
	}
	if junitPath != "" {
		if err := rep.JUnit().WriteFile(junitPath); err != nil {
			return rep, fmt.Errorf("compare: %w", err)
		}
	}
	if mdPath != "" {
		if err := atomicfile.Write(mdPath, []byte(rep.Markdown(baseName, curName)), 0o644); err != nil {
			return rep, fmt.Errorf("compare: writing the Markdown table: %w (check that the folder exists and is writable)", err)
		}
	}
	if rep.Failed() {
		return rep, fmt.Errorf("%d of %d comparisons with %s failed: %w", rep.Count(compare.Fail), len(rep.Cases), baseName, errRegression)
	}
	return rep, nil
}

func cmdReport(_ context.Context, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	out := fs.String("out", "", "write the report to `DIR` (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || *out == "" {
		return badInput("report: usage: clipeval report RESULTS.json... --out DIR")
	}
	rs := make([]*results.Results, len(pos))
	for i, p := range pos {
		if rs[i], err = readResults("report", p); err != nil {
			return err
		}
	}
	merged, err := reports.Merge(rs, pos)
	if err != nil {
		return usageError{fmt.Errorf("report: %w", err)}
	}
	if err := outputFolder("report", *out); err != nil {
		return err
	}
	files, err := reports.Write(*out, merged, nil)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return nil
}
