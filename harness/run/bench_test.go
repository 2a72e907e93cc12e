package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/store"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/internal/sharedtest"
)

// BenchmarkWarmRerun runs a config cold (an empty embedding store, an empty output folder), then warm twice: into
// the same folder (finished runs kept, datasets still loaded and checked) and with Fresh (every run scored again,
// every input read from the store). It reports each wall time and their ratios to the cold run. The config is
// $CLIPEVAL_BENCH_CONFIG (e.g. configs/vqa-rad-tiny.yaml, with CLIPEVAL_SHARED set for its models), else the
// embedded demo. Run with -benchtime=1x: each iteration is a whole cold run.
func BenchmarkWarmRerun(b *testing.B) {
	b.Setenv(sharedtest.ORTEnvVar, sharedtest.ORTLib(b))
	cfgPath := os.Getenv("CLIPEVAL_BENCH_CONFIG")
	getenv := os.LookupEnv
	if cfgPath == "" {
		demo := b.TempDir()
		if _, err := demogen.Generate(demo); err != nil {
			b.Fatal(err)
		}
		cfgPath = filepath.Join(sharedtest.RepoRoot(), "configs", "demo.yaml")
		getenv = func(k string) (string, bool) {
			if k == "CLIPEVAL_DEMO" {
				return demo, true
			}
			return os.LookupEnv(k)
		}
	}
	for range b.N {
		cfg, err := config.Load(cfgPath, getenv)
		if err != nil {
			b.Fatal(err)
		}
		s, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		h := pluginhost.New(filepath.Join(binDir, "plugins"), nil)
		r := &Runner{Host: h, Cache: s}
		out := b.TempDir()
		timed := func() time.Duration {
			start := time.Now()
			if _, err := r.Run(context.Background(), plan.New(cfg, out, "bench")); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		cold := timed()
		resumed := timed()
		r.Fresh = true
		rescored := timed()
		h.Close()
		s.Close()
		b.ReportMetric(cold.Seconds(), "cold-s")
		b.ReportMetric(resumed.Seconds(), "resumed-s")
		b.ReportMetric(rescored.Seconds(), "rescored-s")
		b.ReportMetric(resumed.Seconds()/cold.Seconds(), "resumed/cold")
		b.ReportMetric(rescored.Seconds()/cold.Seconds(), "rescored/cold")
	}
}
