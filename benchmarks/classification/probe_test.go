package main

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestScoreZeroShotStatistics(t *testing.T) {
	// The "three classes" case of TestScore: predictions right, wrong, right, wrong, right.
	pairs := []string{"a.png", "red", "b.png", "red", "c.png", "green", "d.png", "blue", "e.png", "blue"}
	images := sdk.Matrix{Rows: 5, Cols: 3, Data: []float32{5, 1, 0, 1, 2, 0, 0, 1, 1, 1, 0, 1, 0, 0, 3}}
	texts := sdk.Matrix{Rows: 6, Cols: 3, Data: []float32{1, 0, 0, 2, 0, 0, 0, 3, 0, 0, 1, 0, 0, 0, 1, 0, 0, 7}}
	score := func(opts string) *sdk.Scores {
		tk := &task{}
		d, err := tk.Load(context.Background(), jsonlRequest(manifest(t, pairs...), opts))
		require.NoError(t, err)
		s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: images,
			TextEmbeddings: texts, LogitScale: 100})
		require.NoError(t, err)
		return s
	}
	s := score(`{"templates": ["a {} photo", "{c}"], "classes": ["red", "green", "blue"]}`)
	assert.Equal(t, "zero-shot", s.Mode)
	assert.Equal(t, map[string][]float64{"acc1": {1, 0, 1, 0, 1}}, testutil.ItemValues(s))
	assert.Equal(t, []string{"acc1", "mean_per_class_recall"}, keys(testutil.Intervals(s)))
	for _, iv := range testutil.Intervals(s) {
		assert.True(t, iv.Low <= iv.High && iv.Low >= 0 && iv.High <= 1)
	}
	off := score(`{"templates": ["a {} photo", "{c}"], "classes": ["red", "green", "blue"], "bootstrap": 0}`)
	assert.Nil(t, testutil.Intervals(off))
	sv, offv := testutil.Values(s), testutil.Values(off)
	assert.Equal(t, dropNaN(sv), dropNaN(offv))
	assert.Equal(t, sv, offv)
}

// dropNaN deletes the NaN metrics of m (NaN never equals itself) and returns their names.
func dropNaN(m map[string]float64) []string {
	var out []string
	for k, v := range m {
		if math.IsNaN(v) {
			out = append(out, k)
			delete(m, k)
		}
	}
	slices.Sort(out)
	return out
}

// keys returns m's keys, sorted.
func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// probeData are 2-D image embeddings by file name: red images point along x, blue along y. Test image t4 lies on
// the red side but is labelled blue.
var probeData = map[string][]float32{
	"t1.png": {1, 0.1}, "t2.png": {0.1, 1}, "t3.png": {1, -0.2}, "t4.png": {1, 0},
	"r1.png": {1, 0}, "r2.png": {1, 0.2}, "r3.png": {0.9, -0.1}, "r4.png": {1.1, 0.1},
	"b1.png": {0, 1}, "b2.png": {0.2, 1}, "b3.png": {-0.1, 0.9}, "b4.png": {0.1, 1.1},
	"v1.png": {1, 0.05}, "v2.png": {0.05, 1},
}

// probeRun loads the probe data set in linear-probe mode with extra options (JSON members) and scores it.
func probeRun(t *testing.T, withVal bool, extra string) *sdk.Scores {
	t.Helper()
	test := manifest(t, "t1.png", "red", "t2.png", "blue", "t3.png", "red", "t4.png", "blue")
	train := manifest(t, "r1.png", "red", "b1.png", "blue", "r2.png", "red", "b2.png", "blue",
		"r3.png", "red", "b3.png", "blue", "r4.png", "red", "b4.png", "blue")
	opts := map[string]any{"mode": "linear-probe", "train_manifest": train, "l2_grid": []string{"0.001", "0.1"}}
	if withVal {
		opts["val_manifest"] = manifest(t, "v1.png", "red", "v2.png", "blue")
	}
	b, err := json.Marshal(opts)
	require.NoError(t, err)
	if extra != "" {
		b = append(b[:len(b)-1], []byte(", "+extra+"}")...)
	}
	tk := &task{}
	d, err := tk.Load(context.Background(), jsonlRequest(test, string(b)))
	require.NoError(t, err)
	assert.Empty(t, d.Texts, "the probe encodes no texts")
	assert.Equal(t, 4, d.Size)
	m := sdk.Matrix{Rows: len(d.Images), Cols: 2}
	for _, img := range d.Images {
		v, ok := probeData[filepath.Base(img.Path)]
		require.True(t, ok, img.Path)
		m.Data = append(m.Data, v...)
	}
	s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: m,
		TextEmbeddings: sdk.Matrix{}})
	require.NoError(t, err)
	return s
}

func TestScoreLinearProbe(t *testing.T) {
	// Every probe separates red from blue along the diagonal: t1, t2, t3 right, t4 wrong. Classes sorted blue,
	// red; red is the positive class. The margins (red − blue logit) order t2 < t1 < t4 < t3, so of the pairs
	// (red, blue) = (t1, t2), (t1, t4), (t3, t2), (t3, t4) three are ordered: AUROC 3/4. The validation (or
	// held-out) images are right at both strengths, so the larger, 0.1, is chosen.
	want := func(prefix string, trainItems float64) map[string]float64 {
		return map[string]float64{
			prefix + "acc1": 0.75, prefix + "mean_per_class_recall": 0.75, prefix + "auroc": 0.75,
			prefix + "recall/blue": 0.5, prefix + "recall/red": 1, prefix + "train_items": trainItems,
			prefix + "l2/seed0": 0.1,
		}
	}
	tests := []struct {
		name    string
		withVal bool
		extra   string
		metrics map[string]float64
	}{
		{"validation split, default fractions", true, "",
			merge(want("linear_probe_1pct/", 2), want("linear_probe_10pct/", 2), want("linear_probe_100pct/", 8))},
		// Without a validation split, one image of each class of the sample is held out (10% of 4 or 2, at least
		// one), and the probe is refitted on the whole sample.
		{"held out, 50%", false, `"train_fractions": ["50", "100"]`,
			merge(want("linear_probe_50pct/", 4), want("linear_probe_100pct/", 8))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := probeRun(t, tc.withVal, tc.extra)
			assert.Equal(t, "linear-probe", s.Mode)
			require.NoError(t, s.Check())
			values := testutil.Values(s)
			acc5 := 0
			for k, v := range values {
				if filepath.Base(k) == "acc5" {
					assert.True(t, math.IsNaN(v), "acc5 is NaN below 5 classes")
					delete(values, k)
					acc5++
				}
			}
			assert.Equal(t, len(tc.metrics)/7, acc5)
			assert.Equal(t, tc.metrics, values)
			for _, m := range s.Metrics {
				switch base := filepath.Base(filepath.Dir(m.Name)) + "/" + filepath.Base(m.Name); {
				case strings.HasSuffix(base, "/train_items"):
					assert.Equal(t, [2]string{"none", "count"}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
				case strings.HasPrefix(base, "l2/"):
					assert.Equal(t, [2]string{"none", "value"}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
				default:
					assert.Equal(t, [2]string{"higher", "fraction"}, [2]string{string(m.Direction), string(m.Unit)}, m.Name)
				}
			}
			var groups []string
			for _, p := range s.Predictions {
				assert.Equal(t, p.Truth == p.Predicted, p.Correct)
				assert.Equal(t, p.Item != "t4.png", p.Correct, p.Item)
				if len(groups) == 0 || groups[len(groups)-1] != p.Group {
					groups = append(groups, p.Group)
				}
			}
			assert.Len(t, s.Predictions, 4*len(groups))
			for _, g := range groups {
				assert.Equal(t, []float64{1, 1, 1, 0}, testutil.ItemValues(s)[g+"/acc1"])
				assert.Subset(t, s.Headline, []string{g + "/acc1", g + "/mean_per_class_recall", g + "/auroc"})
				// Hits {1, 1, 1, 0}: the miss is drawn k ~ Binomial(4, 1/4) times; P(k ≥ 3) = 0.051 and
				// P(k = 4) = 0.004 put the 2.5th percentile at 1/4, P(k = 0) = 0.32 the 97.5th at 1.
				assert.Equal(t, sdk.Interval{Low: 0.25, High: 1}, testutil.Intervals(s)[g+"/acc1"])
				assert.Contains(t, testutil.Intervals(s), g+"/mean_per_class_recall")
				assert.Contains(t, testutil.Intervals(s), g+"/auroc")
			}
			assert.Len(t, s.Headline, 3*len(groups))
		})
	}
}

// merge returns the union of maps.
func merge(maps ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestScoreLinearProbeSeeds(t *testing.T) {
	// Two seeds: each metric is the mean of the single-seed runs; with a validation split the 100% sample does
	// not depend on the seed and is fitted once.
	both := probeRun(t, true, `"train_fractions": ["50", "100"], "seeds": ["0", "1"], "bootstrap": 0`)
	one := probeRun(t, true, `"train_fractions": ["50", "100"], "seeds": ["0"], "bootstrap": 0`)
	other := probeRun(t, true, `"train_fractions": ["50", "100"], "seeds": ["1"], "bootstrap": 0`)
	oneV, otherV := testutil.Values(one), testutil.Values(other)
	for k, v := range testutil.Values(both) {
		switch {
		case math.IsNaN(v):
			assert.True(t, math.IsNaN(oneV[k]), k)
		case k == "linear_probe_50pct/l2/seed1":
			assert.Equal(t, otherV["linear_probe_50pct/l2/seed1"], v)
		case filepath.Base(filepath.Dir(k)) == "l2" || filepath.Base(k) == "train_items":
			assert.Equal(t, oneV[k], v, k)
		default:
			assert.Equal(t, (oneV[k]+otherV[k])/2, v, k)
		}
	}
	assert.NotContains(t, testutil.Values(both), "linear_probe_100pct/l2/seed1")
	assert.Nil(t, testutil.Intervals(both))
	again := probeRun(t, true, `"train_fractions": ["50", "100"], "seeds": ["0", "1"], "bootstrap": 0`)
	assert.Equal(t, dropNaN(testutil.Values(both)), dropNaN(testutil.Values(again)))
	require.Len(t, again.Metrics, len(both.Metrics))
	for i := range both.Metrics { // NaN never equals itself: zero the NaN values both have before comparing
		if math.IsNaN(both.Metrics[i].Value) && math.IsNaN(again.Metrics[i].Value) {
			both.Metrics[i].Value, again.Metrics[i].Value = 0, 0
		}
	}
	assert.Equal(t, both, again, "the probe is deterministic")
}

func TestLoadLinearProbeErrors(t *testing.T) {
	test := manifest(t, "t1.png", "red", "t2.png", "blue")
	train := manifest(t, "r1.png", "red", "b1.png", "blue")
	redOnly := manifest(t, "r1.png", "red")
	green := manifest(t, "r1.png", "red", "b1.png", "blue", "g1.png", "green")
	probe := `"mode": "linear-probe", "train_manifest": "` + train + `"`
	tests := []struct {
		name, opts, want string
	}{
		{"no train split", `{"mode": "linear-probe"}`, "needs train_manifest"},
		{"templates", `{` + probe + `, "templates": ["{}"]}`, "templates apply to mode zero-shot"},
		{"probe options in zero-shot mode", `{"templates": ["{}"], "seeds": ["1"]}`, "apply to mode linear-probe"},
		{"unknown mode", `{"mode": "few-shot", "templates": ["{}"]}`, `mode "few-shot" is not`},
		{"fraction 0", `{` + probe + `, "train_fractions": ["0"]}`, "train fraction 0% is not in (0, 100]"},
		{"fraction above 100", `{` + probe + `, "train_fractions": ["150"]}`, "train fraction 150%"},
		{"fraction not a number", `{` + probe + `, "train_fractions": ["ten"]}`, `entry 0 ("ten") is not a finite number`},
		{"L2 0", `{` + probe + `, "l2_grid": ["1", "0"]}`, "L2 strength 0 in l2_grid is not positive"},
		{"negative seed", `{` + probe + `, "seeds": ["-1"]}`, "seed -1 is not a whole number"},
		{"fractional seed", `{` + probe + `, "seeds": ["1.5"]}`, "seed 1.5 is not a whole number"},
		{"class without training images", `{"mode": "linear-probe", "train_manifest": "` + redOnly + `"}`,
			`class "blue" has no images`},
		{"training label outside the classes", `{"mode": "linear-probe", "train_manifest": "` + green + `"}`,
			`label "green" of g1.png is not among the classes`},
		{"negative bootstrap", `{` + probe + `, "bootstrap": -1}`, "bootstrap is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&task{}).Load(context.Background(), jsonlRequest(test, tc.opts))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestScoreLinearProbeSkips checks that skipping bad images (a test, two training and a validation image) scores
// as the data set without them, in both modes.
func TestScoreLinearProbeSkips(t *testing.T) {
	test := []string{"t1.png", "red", "t2.png", "blue", "t3.png", "red", "t4.png", "blue"}
	train := []string{"r1.png", "red", "b1.png", "blue", "r2.png", "red", "b2.png", "blue",
		"r3.png", "red", "b3.png", "blue", "r4.png", "red", "b4.png", "blue"}
	val := []string{"v1.png", "red", "v2.png", "blue", "v3.png", "blue"}
	probeData := maps.Clone(probeData)
	probeData["v3.png"] = []float32{0.1, 0.9}
	bad := map[string]bool{"t3.png": true, "r2.png": true, "b4.png": true, "v3.png": true}
	drop := func(pairs []string) []string {
		var out []string
		for i := 0; i+1 < len(pairs); i += 2 {
			if !bad[pairs[i]] {
				out = append(out, pairs[i], pairs[i+1])
			}
		}
		return out
	}
	score := func(t *testing.T, opts map[string]any, test, train, val []string, skip bool) *sdk.Scores {
		opts = maps.Clone(opts)
		if opts["mode"] == "linear-probe" {
			opts["train_manifest"], opts["val_manifest"] = manifest(t, train...), manifest(t, val...)
		}
		b, err := json.Marshal(opts)
		require.NoError(t, err)
		tk := &task{}
		d, err := tk.Load(context.Background(), jsonlRequest(manifest(t, test...), string(b)))
		require.NoError(t, err)
		m := sdk.Matrix{Rows: len(d.Images), Cols: 2}
		var skipped []int
		for i, img := range d.Images {
			name := filepath.Base(img.Path)
			if skip && bad[name] {
				skipped = append(skipped, i)
				m.Data = append(m.Data, 0, 0)
				continue
			}
			m.Data = append(m.Data, probeData[name]...)
		}
		texts := sdk.Matrix{Rows: len(d.Texts), Cols: 2}
		for i := range d.Texts {
			texts.Data = append(texts.Data, float32(i%2), float32(1-i%2)) // blue along y, red along x
		}
		s, err := tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: m, TextEmbeddings: texts,
			SkippedImages: skipped, LogitScale: 10})
		require.NoError(t, err)
		return s
	}
	modes := []struct {
		name string
		opts map[string]any
	}{
		{"zero-shot", map[string]any{"classes": []string{"blue", "red"}, "templates": []string{"{}"}}},
		{"linear-probe", map[string]any{"mode": "linear-probe", "l2_grid": []string{"0.001", "0.1"}}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			want := score(t, mode.opts, drop(test), drop(train), drop(val), false)
			got := score(t, mode.opts, test, train, val, true)
			same, w, g := testutil.Same(want, got)
			assert.True(t, same, "want\n%s\ngot\n%s", w, g)
			for _, p := range got.Predictions {
				assert.NotEqual(t, "t3.png", p.Item, "t3 is left out")
			}
			assert.NotEmpty(t, got.Predictions)
		})
	}
	t.Run("a skipped row out of range", func(t *testing.T) {
		tk := &task{}
		d, err := tk.Load(context.Background(), jsonlRequest(manifest(t, test...), `{"classes": ["blue", "red"], "templates": ["{}"]}`))
		require.NoError(t, err)
		m := sdk.Matrix{Rows: len(d.Images), Cols: 2, Data: make([]float32, 2*len(d.Images))}
		texts := sdk.Matrix{Rows: len(d.Texts), Cols: 2, Data: make([]float32, 2*len(d.Texts))}
		_, err = tk.Score(context.Background(), sdk.ScoreRequest{DatasetID: d.ID, ImageEmbeddings: m, TextEmbeddings: texts, SkippedImages: []int{4}})
		assert.ErrorContains(t, err, "skipped image 4: the loaded dataset has images 0 to 3")
	})
}
