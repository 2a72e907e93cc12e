package sdk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeptImages(t *testing.T) {
	cases := []struct {
		name    string
		skipped []int
		n       int
		want    []bool
		err     string
	}{
		{"none skipped", nil, 3, []bool{true, true, true}, ""},
		{"some skipped", []int{0, 2}, 4, []bool{false, true, false, true}, ""},
		{"all skipped", []int{0, 1}, 2, []bool{false, false}, ""},
		{"no images", nil, 0, []bool{}, ""},
		{"past the end", []int{3}, 3, nil, "skipped image 3: the loaded dataset has images 0 to 2"},
		{"negative", []int{-1}, 3, nil, "skipped image -1: the loaded dataset has images 0 to 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ScoreRequest{SkippedImages: c.skipped}.KeptImages(c.n)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestIndicesOnTheWire(t *testing.T) {
	for _, v := range [][]int{nil, {0}, {1, 5, 1 << 40}} {
		assert.Equal(t, v, ints(int64s(v)))
	}
	assert.Nil(t, int64s([]int{}), "no field on the wire for no indices")
}
