// Command gendemo writes clipeval's embedded demo (an analytic ONNX model pair and three synthetic data sets, see
// package internal/demogen) and prints the task options the demo config must use and the exact results expected.
//
//	go run ./internal/cmd/gendemo -out DIR
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/clipeval/clipeval/internal/demogen"
)

func main() {
	out := flag.String("out", "", "folder to write the demo tree into (created if missing)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gendemo -out DIR")
		os.Exit(2)
	}
	exp, err := demogen.Generate(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendemo:", err)
		os.Exit(1)
	}
	summarize(os.Stdout, *out, exp)
}

// summarize prints what was written and what the demo must produce.
func summarize(w io.Writer, dir string, e *demogen.Expected) {
	m := e.Model
	fmt.Fprintf(w, "wrote the demo to %s\n", dir)
	fmt.Fprintf(w, "model folder %s: embed_dim %d, image_size %d, context_length %d, %d vocabulary entries\n",
		m.Dir, m.EmbedDim, m.ImageSize, m.ContextLength, m.Vocab)
	r := e.Retrieval
	fmt.Fprintf(w, "retrieval %s: %d images, %d captions\n", r.Manifest, r.Images, r.Texts)
	for _, k := range []int{1, 5, 10} {
		fmt.Fprintf(w, "  image_retrieval_recall@%d = %.6f  text_retrieval_recall@%d = %.6f\n",
			k, r.ImageRetrievalRecall[k], k, r.TextRetrievalRecall[k])
	}
	c := e.Classification
	fmt.Fprintf(w, "classification %s: %d images\n  classes: %s\n  templates: %q\n",
		c.Manifest, len(c.Labels), strings.Join(c.Classes, ", "), c.Templates)
	fmt.Fprintf(w, "  acc1 = %.6f  acc5 = %.6f  mean_per_class_recall = %.6f\n", c.Acc1, c.Acc5, c.MeanPerClassRecall)
	v := e.VQA
	fmt.Fprintf(w, "vqa %s: %d closed + %d open test questions, prompt %q, open candidates %s\n",
		v.Dir, v.Closed, v.Open, v.Prompt, strings.Join(v.OpenCandidates, ", "))
	fmt.Fprintf(w, "  closed = %.6f  open = %.6f  overall = %.6f\n", v.ClosedAccuracy, v.OpenAccuracy, v.OverallAccuracy)
}
