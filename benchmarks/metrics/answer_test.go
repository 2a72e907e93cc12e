package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNormalizeAnswer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Yes", "yes"},
		{"The Brain.", "brain"},
		{"  an   X-ray  ", "xray"},
		{"a", ""},
		{"the left lung, the right", "left lung right"},
		{"Theater", "theater"},
		{"T2 (FLAIR)", "t2 flair"},
		{"$5 + 3 = 8 ~ |x| ^2 `q`", "5 3 8 x 2 q"},
		{"“Quoted” — dash", "quoted dash"},
		{"4", "4"},
		{"2.5", "25"},
		{"Ménétrier", "ménétrier"},
		{"45°", "45°"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, NormalizeAnswer(tc.in))
		})
	}
	assert.True(t, AnswersMatch("The X-ray!", "xray"))
	assert.False(t, AnswersMatch("yes", "no"))
}
