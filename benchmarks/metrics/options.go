package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/stats"
)

// Modes name how a task made its numbers, for sdk.Scores.Mode.
const (
	ModeZeroShot    = "zero-shot"
	ModeLinearProbe = "linear-probe"
	ModeLinearHead  = "linear-head"
)

// BootstrapConfig holds the `bootstrap` and `seed` options every task accepts; tasks embed it in their options
// struct and list BootstrapFields among their option fields.
type BootstrapConfig struct {
	// Bootstrap is the number of bootstrap resamples for the confidence intervals (nil: stats.DefaultResamples;
	// 0: no intervals).
	Bootstrap *int `json:"bootstrap"`
	// Seed seeds every random choice of the task: bootstrap resamples, query subsets, held-out parts (nil: 0).
	Seed *int `json:"seed"`
}

// BootstrapFields declares the options of BootstrapConfig.
func BootstrapFields() []sdk.Field {
	return []sdk.Field{
		{Name: "bootstrap", Type: sdk.FieldInt, Min: sdk.Bound(0), Help: "bootstrap resamples for the 95% confidence intervals (default " +
			strconv.Itoa(stats.DefaultResamples) + "; 0 turns them off)"},
		{Name: "seed", Type: sdk.FieldInt, Min: sdk.Bound(0), Help: "seed of the task's random choices: bootstrap resamples, subsets (default 0)"},
	}
}

// Stats checks the options and returns them as stats.Options.
func (b BootstrapConfig) Stats() (stats.Options, error) {
	opt := stats.Options{Resamples: stats.DefaultResamples}
	if b.Bootstrap != nil {
		if *b.Bootstrap < 0 {
			return opt, fmt.Errorf("options: bootstrap is %d; use 0 to turn intervals off or a positive number of resamples (e.g. %d)",
				*b.Bootstrap, stats.DefaultResamples)
		}
		opt.Resamples = *b.Bootstrap
	}
	if b.Seed != nil {
		if *b.Seed < 0 {
			return opt, fmt.Errorf("options: seed is %d; it must be 0 or more", *b.Seed)
		}
		opt.Seed = uint64(*b.Seed)
	}
	return opt, nil
}

// Numbers is a list of numbers in task options. The harness passes list options as lists of strings (a
// string_list field), so each entry may be a JSON number or a string holding one; every entry must be finite.
type Numbers []float64

// UnmarshalJSON decodes a JSON array of numbers or numeric strings; null leaves n as it is.
func (n *Numbers) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("want a list of numbers: %w", err)
	}
	out := make(Numbers, len(raw))
	for i, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			s = string(bytes.TrimSpace(r))
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("entry %d (%s) is not a finite number", i, r)
		}
		out[i] = v
	}
	*n = out
	return nil
}
