package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clipeval/clipeval/harness/store"
)

// cacheDirUsage is the --cache-dir flag's help, shared with the commands that use the store.
const cacheDirUsage = "the embedding store's folder `DIR` (default: $CLIPEVAL_CACHE_DIR, else $XDG_CACHE_HOME/clipeval, else ~/.cache/clipeval)"

// errCacheUnsound marks a cache verify that found corrupt entries or a damaged file (exit 1).
var errCacheUnsound = errors.New("the embedding store was not sound")

// shortFingerprint is how many hex digits of a fingerprint cache stats shows; prune takes any unique prefix of at
// least minPrefix.
const (
	shortFingerprint = 12
	minPrefix        = 8
)

func cmdCache(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	dirFlag := fs.String("cache-dir", "", cacheDirUsage)
	var models stringsFlag
	fs.Var(&models, "model", "with prune: remove the model `FINGERPRINT`, or the one whose fingerprint starts with it (at least 8 digits; repeatable)")
	var unused ageFlag
	fs.Var(&unused, "unused-for", "with prune: remove the models no run has used for `AGE` (a Go duration such as 36h, or days such as 30d)")
	all := fs.Bool("all", false, "with prune: remove every entry (also clears a store that verify reports damaged)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "stats" && pos[0] != "verify" && pos[0] != "prune") {
		return badInput("cache takes one of stats, verify or prune, got %q (see clipeval cache --help)", pos)
	}
	sub := pos[0]
	if sub != "prune" && (len(models) > 0 || unused > 0 || *all) {
		return badInput("cache %s: --model, --unused-for and --all go with cache prune", sub)
	}
	opts := store.PruneOptions{UnusedFor: time.Duration(unused), All: *all}
	if sub == "prune" {
		switch {
		case !*all && len(models) == 0 && unused == 0:
			return badInput("cache prune: say what to remove: --model FINGERPRINT, --unused-for AGE or --all")
		case *all && (len(models) > 0 || unused > 0):
			return badInput("cache prune: --all removes everything; give it alone")
		}
	}
	dir := *dirFlag
	if dir == "" {
		if dir, err = store.DefaultDir(); err != nil {
			return usageError{err}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "no embedding store in %s yet: nothing is cached\n", dir)
		return nil
	}
	s, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	switch sub {
	case "stats":
		return cacheStats(s, stdout)
	case "verify":
		return cacheVerify(s, stdout, stderr)
	}
	if len(models) > 0 {
		st, err := s.Stats()
		if err != nil {
			return err
		}
		for _, m := range models {
			fp, err := resolveModel(st, m)
			if err != nil {
				return err
			}
			opts.Models = append(opts.Models, fp)
		}
	}
	return cachePrune(s, opts, stdout)
}

// resolveModel returns the fingerprint of the one model whose fingerprint is m or starts with m.
func resolveModel(st store.Stats, m string) (string, error) {
	var found []string
	for _, ms := range st.Models {
		if ms.Model == m {
			return m, nil
		}
		if strings.HasPrefix(ms.Model, m) {
			found = append(found, ms.Model)
		}
	}
	switch {
	case len(m) < minPrefix:
		return "", badInput("cache prune --model %s: give the fingerprint, or at least its first %d digits (clipeval cache stats lists them)", m, minPrefix)
	case len(found) == 0:
		return "", badInput("cache prune --model %s: no model in %s has such a fingerprint (clipeval cache stats lists them)", m, st.Dir)
	case len(found) > 1:
		return "", badInput("cache prune --model %s: %d models' fingerprints start with it; give more digits", m, len(found))
	}
	return found[0], nil
}

func cacheStats(s *store.Store, stdout io.Writer) error {
	st, err := s.Stats()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "embedding store %s: %d entries, %s in %d model(s); the file is %s\n",
		st.Path, st.Entries, humanBytes(st.Bytes), len(st.Models), humanBytes(st.FileBytes))
	if st.Dropped > 0 {
		fmt.Fprintf(stdout, "%d corrupt entries found and removed so far (they were encoded again)\n", st.Dropped)
	}
	if len(st.Models) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tLABEL\tENTRIES\tDIM\tSIZE\tLAST USED")
	for _, m := range st.Models {
		used := "-"
		if !m.LastUsed.IsZero() {
			used = m.LastUsed.UTC().Format("2006-01-02 15:04 UTC")
		}
		label := m.Label
		if label == "" {
			label = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", short(m.Model), label, m.Entries, m.Dim, humanBytes(m.Bytes), used)
	}
	return w.Flush()
}

func cacheVerify(s *store.Store, stdout, stderr io.Writer) error {
	r, err := s.Verify()
	if err != nil {
		return err
	}
	if r.DamagedTotal > 0 {
		for _, p := range r.Damaged {
			fmt.Fprintf(stderr, "damaged: %s\n", p)
		}
		if more := r.DamagedTotal - len(r.Damaged); more > 0 {
			fmt.Fprintf(stderr, "damaged: %d more problem(s)\n", more)
		}
		return fmt.Errorf("%w: its file %s is damaged (%d problem(s)); clipeval cache prune --all --cache-dir %s starts it empty",
			errCacheUnsound, s.Path(), r.DamagedTotal, s.Dir())
	}
	fmt.Fprintf(stdout, "verified %d entries of %d model(s) in %s: ", r.Entries, r.Models, s.Path())
	if r.Corrupt == 0 {
		fmt.Fprintln(stdout, "all sound")
		return nil
	}
	fmt.Fprintf(stdout, "%d corrupt, removed\n", r.Corrupt)
	return fmt.Errorf("%w: %d corrupt entries were removed (runs encode them again); the store is sound now", errCacheUnsound, r.Corrupt)
}

func cachePrune(s *store.Store, opts store.PruneOptions, stdout io.Writer) error {
	r, err := s.Prune(opts)
	if err != nil {
		return err
	}
	if len(r.Models) == 0 && r.Entries == 0 && !opts.All {
		fmt.Fprintln(stdout, "nothing to remove")
		return nil
	}
	for _, m := range r.Models {
		fmt.Fprintf(stdout, "removed %s\n", m)
	}
	fmt.Fprintf(stdout, "removed %d model(s), %d entries (%s); the file went from %s to %s\n",
		len(r.Models), r.Entries, humanBytes(r.Bytes), humanBytes(r.FileBefore), humanBytes(r.FileAfter))
	return nil
}

func short(fp string) string {
	if len(fp) > shortFingerprint {
		return fp[:shortFingerprint]
	}
	return fp
}

// humanBytes formats n bytes in binary units with one decimal.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// stringsFlag is a repeatable flag, one value per use.
type stringsFlag []string

// String joins the values with commas.
func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

// Set adds one value.
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// ageFlag is a positive duration given as a Go duration (36h, 90m) or a number of days (30d).
type ageFlag time.Duration

// String returns the age as a Go duration, empty when unset.
func (a *ageFlag) String() string {
	if *a == 0 {
		return ""
	}
	return time.Duration(*a).String()
}

// Set parses an age.
func (a *ageFlag) Set(v string) error {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil {
			return fmt.Errorf("want a number of days such as 30d, or a Go duration such as 36h")
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("want a Go duration such as 36h, or a number of days such as 30d")
		}
	}
	if d <= 0 {
		return fmt.Errorf("want an age above zero")
	}
	*a = ageFlag(d)
	return nil
}
