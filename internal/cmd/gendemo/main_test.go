package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/demogen"
)

func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	exp, err := demogen.Generate(dir)
	require.NoError(t, err)
	var out bytes.Buffer
	summarize(&out, dir, exp)
	for _, want := range []string{
		"model folder model: embed_dim 8, image_size 32, context_length 16, 54 vocabulary entries\n",
		"retrieval data/retrieval.jsonl: 12 images, 25 captions\n",
		"  image_retrieval_recall@1 = 0.800000  text_retrieval_recall@1 = 0.916667\n",
		"  image_retrieval_recall@10 = 0.960000  text_retrieval_recall@10 = 1.000000\n",
		"  classes: red, green, blue, yellow, cyan, magenta\n",
		`  templates: ["a {} image." "a photo that is {}."]` + "\n",
		"  acc1 = 0.769231  acc5 = 0.923077  mean_per_class_recall = 0.861111\n",
		`vqa data/vqa: 8 closed + 6 open test questions, prompt "{question} {answer}", open candidates blue, green, red, white, yellow` + "\n",
		"  closed = 0.750000  open = 0.833333  overall = 0.785714\n",
	} {
		require.Contains(t, out.String(), want)
	}
}
