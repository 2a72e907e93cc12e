package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestLoadSLAKE loads a made-up SLAKE: English test questions only; open candidates from the English training
// answers (Chinese rows and the validation split give none).
func TestLoadSLAKE(t *testing.T) {
	root := testutil.WriteSLAKE(t, t.TempDir(), map[string][]testutil.SLAKERow{
		"train.json": {
			{QID: 0, Image: "xmlab1/source.jpg", Question: "Is this a CT?", Answer: "Yes", AnswerType: "CLOSED", Lang: "en"},
			{QID: 1, Image: "xmlab1/source.jpg", Question: "哪个器官?", Answer: "肺", AnswerType: "OPEN", Lang: "zh"},
			{QID: 2, Image: "xmlab2/source.jpg", Question: "Which organ?", Answer: "Lung", AnswerType: "OPEN", Lang: "en"},
		},
		"validate.json": {{QID: 3, Image: "xmlab2/source.jpg", Question: "Which side?", Answer: "Left", AnswerType: "OPEN", Lang: "en"}},
		"test.json": {
			{QID: 4, Image: "xmlab3/source.jpg", Question: "Is it normal?", Answer: "No", AnswerType: "CLOSED", Lang: "en"},
			{QID: 5, Image: "xmlab3/source.jpg", Question: "正常吗?", Answer: "不", AnswerType: "CLOSED", Lang: "zh"},
			{QID: 6, Image: "xmlab4/source.jpg", Question: "Which organ?", Answer: "liver", AnswerType: "OPEN", Lang: "en"},
		},
	})
	ds, err := json.Marshal(map[string]string{"format": "slake", "root": root})
	require.NoError(t, err)
	d, err := (&task{}).Load(context.Background(), sdk.LoadRequest{Dataset: ds})
	require.NoError(t, err)
	img := func(n string) string { return filepath.Join(root, "imgs", n, "source.jpg") }
	assert.Equal(t, 2, d.Size)
	assert.Equal(t, []sdk.ImageInput{{Path: img("xmlab3"), Root: filepath.Join(root, "imgs")}, {Path: img("xmlab4"), Root: filepath.Join(root, "imgs")}}, d.Images)
	// Open candidates: the English training answers normalised and sorted: lung, yes.
	assert.Equal(t, []string{"Is it normal? yes", "Is it normal? no", "Which organ? lung", "Which organ? yes"}, d.Texts)
	assert.Equal(t, []string{filepath.Join(root, "train.json"), filepath.Join(root, "validate.json"),
		filepath.Join(root, "test.json"), img("xmlab3"), img("xmlab4")}, d.Files)
	assert.Equal(t, "slake test: 2 questions (1 closed, 1 open) on 2 images; 2 closed, 2 open candidates", d.Description)
}
