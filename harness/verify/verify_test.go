package verify

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompare(t *testing.T) {
	want := []float32{1, 2, 0, -4}
	tests := []struct {
		name      string
		got       []float32
		tol       Tolerance
		maxAbs    float64
		maxRel    float64
		needATol  float64
		minCosine float64
		pass      bool
	}{
		{"identical", []float32{1, 2, 0, -4}, FP32, 0, 0, 0, 1, true},
		// Row 1 (0,-4) vs (0.5,-4): diff 0.5 at want 0, so max_rel comes from row 0 only.
		{"off by half", []float32{1, 2.25, 0.5, -4}, Tolerance{ATol: 0.5, RTol: 0, MinCosine: 0.99}, 0.5, 0.125, 0.5, 4 / math.Sqrt(16.25), true},
		{"rtol absorbs", []float32{1, 2.25, 0, -4}, Tolerance{ATol: 0.1, RTol: 0.125, MinCosine: 0.9}, 0.25, 0.125, 0, (1 + 4.5) / (math.Sqrt(5) * math.Sqrt(1+2.25*2.25)), true},
		{"cosine fails", []float32{-1, -2, 0, -4}, Tolerance{ATol: 10, RTol: 0, MinCosine: 0.5}, 4, 2, 4, -1, false},
		{"atol fails", []float32{1, 2, 0, -3}, FP32, 1, 0.25, 1 - 1e-4*4, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compare("image_embeds", want, tc.got, 2, 2, tc.tol)
			require.NoError(t, err)
			assert.InDelta(t, tc.maxAbs, s.MaxAbs, 1e-12)
			assert.InDelta(t, tc.maxRel, s.MaxRel, 1e-12)
			assert.InDelta(t, tc.needATol, math.Max(s.NeedATol, 0), 1e-12)
			assert.InDelta(t, tc.minCosine, s.MinCosine, 1e-12)
			assert.Equal(t, tc.pass, s.Pass)
			assert.Equal(t, tc.maxAbs, s.P99Abs, "with 4 values the 99th percentile is the largest")
		})
	}
}

func TestCompareP99AndNaN(t *testing.T) {
	want := make([]float32, 200)
	got := make([]float32, 200)
	for i := range want {
		want[i] = 1
		got[i] = 1 + float32(i)/1024 // diffs 0, 1/1024, ..., 199/1024 (exact in float32)
	}
	s, err := Compare("text_embeds", want, got, 1, 200, FP32)
	require.NoError(t, err)
	assert.Equal(t, 197.0/1024, s.P99Abs, "nearest rank: the 198th of 200 sorted diffs")
	assert.Equal(t, 199.0/1024, s.MaxAbs)

	got[3] = float32(math.NaN())
	loose := Tolerance{ATol: 1e-2, RTol: 1e-2, MinCosine: 0.999}
	s, err = Compare("text_embeds", want, got, 1, 200, loose)
	require.NoError(t, err)
	assert.False(t, s.Pass, "a NaN output never passes")
	assert.True(t, math.IsInf(s.MaxAbs, 1))
}

func TestCompareShapeErrors(t *testing.T) {
	_, err := Compare("image_embeds", []float32{1, 2}, []float32{1}, 1, 2, FP32)
	assert.ErrorContains(t, err, "golden has 2 values and the export 1; both should be [1, 2]")
}

func TestStatsString(t *testing.T) {
	s, err := Compare("image_embeds", []float32{1, 0}, []float32{1, 0.5}, 1, 2, FP32)
	require.NoError(t, err)
	assert.Equal(t, "image_embeds  [1,2]  max_abs 0.5  max_rel 0  p99_abs 0.5  min_cosine 0.89442719  FAIL (passes with --atol 0.5, --min-cosine 0.89442719)", s.String())
}
