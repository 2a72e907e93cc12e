package benchsuite

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
)

// demoRun times `clipeval run configs/demo.yaml` from the command line as a user runs it again: a fresh output
// folder and a fresh embedding store each time (so the demo model encodes everything), the report included, with
// the cache folder's file-digest memo as the first run left it (plugins and model files are not hashed again while
// unchanged). The first run, with an empty cache folder, is timed too and shown beside. Goal: under 0.2 s (issue 10).
func demoRun(ctx context.Context, env *Env) ([]Row, error) {
	tmp, err := os.MkdirTemp("", "clipeval-bench-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)
	demo := filepath.Join(tmp, "demo")
	if _, err := demogen.Generate(demo); err != nil {
		return nil, fmt.Errorf("demo: generating the demo: %w", err)
	}
	if err := settle(filepath.Join(env.Bin, "plugins"), demo); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	runs := 7
	if env.Quick {
		runs = 2
	}
	cache := filepath.Join(tmp, "cache") // the memo's folder
	var first float64
	var walls []float64
	for i := range runs + 1 { // the first run fills the memo (and the page cache) and is not counted
		out, store := filepath.Join(tmp, fmt.Sprintf("out%d", i)), filepath.Join(tmp, fmt.Sprintf("store%d", i))
		cmd := exec.CommandContext(ctx, filepath.Join(env.Bin, "clipeval"), "run", filepath.Join(env.Repo, "configs", "demo.yaml"),
			"--out", out, "--cache-dir", store, "--quiet")
		cmd.Env = append(os.Environ(), "CLIPEVAL_DEMO="+demo, "CLIPEVAL_CACHE_DIR="+cache, "CLIPEVAL_ORT_LIB="+env.ORTLib)
		start := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("demo: %s: %v\n%s", cmd, err, b)
		}
		if i == 0 {
			first = time.Since(start).Seconds()
		} else {
			walls = append(walls, time.Since(start).Seconds())
		}
	}
	m := median(walls)
	return []Row{{Name: "`clipeval run configs/demo.yaml`", Ours: m, Unit: "s", Ratio: m, RatioIs: "wall time, s",
		Goal: 0.2, GoalMax: true,
		Detail: fmt.Sprintf("median of %d runs from the command line, each with a fresh output folder and embedding store, the file-digest memo "+
			"as a first run leaves it, report included; the first run, with an empty cache folder, took %.3f s", runs, first)}}, nil
}

// settle waits until every file under the folders was modified longer ago than digest.RacyWindow (and a margin for
// a status change just after), which a digest memo asks of a file before it remembers its digest: the plugins
// have just been built, and the demo generated.
func settle(dirs ...string) error {
	var newest time.Time
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if t := info.ModTime(); t.After(newest) {
				newest = t
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
	}
	if wait := time.Until(newest.Add(digest.RacyWindow + 500*time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	return nil
}
