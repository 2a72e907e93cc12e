package demogen

import (
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// encoder embeds images (absolute paths) and texts, one row per input.
type encoder struct {
	images func(t *testing.T, paths []string) [][]float64
	texts  func(t *testing.T, texts []string) [][]float64
}

// outcome is what a straightforward, independent implementation of the three tasks' metrics makes of the
// generated tree under an encoder, plus the smallest cosine gap of any comparison that decided a result.
type outcome struct {
	t2iRank                 []int
	i2tRanks                [][]int
	imageRecall, textRecall map[int]float64
	clsPred                 []string
	clsRank                 []int
	acc1, acc5, mpcr        float64
	vqaPred                 []string
	closed, open, all       float64
	margin                  float64
}

// evaluate reads the generated manifests under root and scores them with enc. withYesNo adds "yes" and "no" to
// the open questions' candidates (an implementation that takes every train answer would).
func evaluate(t *testing.T, root string, enc encoder, withYesNo bool) outcome {
	t.Helper()
	o := outcome{margin: math.Inf(1)}
	o.retrieval(t, root, enc)
	o.classification(t, root, enc)
	o.vqa(t, root, enc, withYesNo)
	return o
}

// gap records |a-b| as a decisive comparison.
func (o *outcome) gap(a, b float64) { o.margin = math.Min(o.margin, math.Abs(a-b)) }

// normalize L2-normalises each row.
func normalize(rows [][]float64) [][]float64 {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		var n float64
		for _, x := range r {
			n += x * x
		}
		n = math.Sqrt(n)
		out[i] = make([]float64, len(r))
		for j, x := range r {
			out[i][j] = x / n
		}
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// rank is the 1-based rank of item k among scores, ties broken by index.
func rank(scores []float64, k int) int {
	r := 1
	for j, s := range scores {
		if s > scores[k] || (s == scores[k] && j < k) {
			r++
		}
	}
	return r
}

// readJSONL decodes each line of a JSON Lines file into a T.
func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []T
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var v T
		require.NoError(t, json.Unmarshal([]byte(line), &v), line)
		out = append(out, v)
	}
	return out
}

// retrieval: recall@k as CLIP_benchmark zeroshot_retrieval (text→image: the caption's image in its top k;
// image→text: any of the image's captions in its top k), cosine scores, ties by index.
func (o *outcome) retrieval(t *testing.T, root string, enc encoder) {
	type line struct {
		Image    string   `json:"image"`
		Captions []string `json:"captions"`
	}
	lines := readJSONL[line](t, filepath.Join(root, "data", "retrieval.jsonl"))
	var paths, texts []string
	var owner []int
	for i, l := range lines {
		paths = append(paths, filepath.Join(root, "data", l.Image))
		for _, c := range l.Captions {
			texts = append(texts, c)
			owner = append(owner, i)
		}
	}
	img, txt := normalize(enc.images(t, paths)), normalize(enc.texts(t, texts))
	ks := []int{1, 5, 10}
	imageHits, textHits := map[int]int{}, map[int]int{}
	for c := range txt {
		s := make([]float64, len(img))
		for i := range img {
			s[i] = dot(txt[c], img[i])
		}
		for i := range s {
			if i != owner[c] {
				o.gap(s[i], s[owner[c]])
			}
		}
		r := rank(s, owner[c])
		o.t2iRank = append(o.t2iRank, r)
		for _, k := range ks {
			if r <= k {
				imageHits[k]++
			}
		}
	}
	for i := range img {
		s := make([]float64, len(txt))
		for c := range txt {
			s[c] = dot(img[i], txt[c])
		}
		var ranks []int
		for c := range txt {
			if owner[c] != i {
				continue
			}
			for j := range txt {
				if owner[j] != i {
					o.gap(s[j], s[c])
				}
			}
			ranks = append(ranks, rank(s, c))
		}
		slices.Sort(ranks)
		o.i2tRanks = append(o.i2tRanks, ranks)
		for _, k := range ks {
			if ranks[0] <= k {
				textHits[k]++
			}
		}
	}
	o.imageRecall, o.textRecall = map[int]float64{}, map[int]float64{}
	for _, k := range ks {
		o.imageRecall[k] = float64(imageHits[k]) / float64(len(txt))
		o.textRecall[k] = float64(textHits[k]) / float64(len(img))
	}
}

// classification: zero-shot as CLIP_benchmark zeroshot_classification (class embedding = renormalised mean of the
// L2-normalised template embeddings; argmax ties to the lowest index; acc1, acc5, mean per-class recall).
func (o *outcome) classification(t *testing.T, root string, enc encoder) {
	type line struct {
		Image string `json:"image"`
		Label string `json:"label"`
	}
	lines := readJSONL[line](t, filepath.Join(root, "data", "classification.jsonl"))
	cls, tpl := classes(), templates()
	var prompts []string
	for _, c := range cls {
		for _, p := range tpl {
			prompts = append(prompts, strings.ReplaceAll(p, "{}", c))
		}
	}
	pe := normalize(enc.texts(t, prompts))
	weights := make([][]float64, len(cls))
	for c := range cls {
		weights[c] = make([]float64, len(pe[0]))
		for p := range tpl {
			for d, x := range pe[c*len(tpl)+p] {
				weights[c][d] += x / float64(len(tpl))
			}
		}
	}
	weights = normalize(weights)
	var paths []string
	for _, l := range lines {
		paths = append(paths, filepath.Join(root, "data", l.Image))
	}
	img := normalize(enc.images(t, paths))
	hits, support := map[string]int{}, map[string]int{}
	var top1, top5 int
	for i, l := range lines {
		s := make([]float64, len(cls))
		for c := range cls {
			s[c] = dot(img[i], weights[c])
		}
		label := slices.Index(cls, l.Label)
		require.GreaterOrEqual(t, label, 0, "label %q", l.Label)
		best := 0
		for c := range s {
			if s[c] > s[best] {
				best = c
			}
			if c != label {
				o.gap(s[c], s[label])
			}
		}
		for c := range s {
			if c != best {
				o.gap(s[c], s[best])
			}
		}
		r := rank(s, label)
		o.clsPred = append(o.clsPred, cls[best])
		o.clsRank = append(o.clsRank, r)
		support[l.Label]++
		if best == label {
			top1++
			hits[l.Label]++
		}
		if r <= 5 {
			top5++
		}
	}
	o.acc1 = float64(top1) / float64(len(lines))
	o.acc5 = float64(top5) / float64(len(lines))
	for _, c := range cls {
		o.mpcr += float64(hits[c]) / float64(support[c]) / float64(len(cls))
	}
}

// normAnswer lower-cases, drops punctuation and the articles a/an/the (SQuAD-style normalisation).
func normAnswer(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) {
			return -1
		}
		return r
	}, strings.ToLower(s))
	var kept []string
	for _, w := range strings.Fields(s) {
		if w != "a" && w != "an" && w != "the" {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}

// vqa: zero-shot VQA (DESIGN.md): candidates yes/no for closed questions, the train split's normalised open
// answers for open ones; the prompt "{question} {answer}" most similar to the image wins; normalised exact match.
func (o *outcome) vqa(t *testing.T, root string, enc encoder, withYesNo bool) {
	dir := filepath.Join(root, "data", "vqa")
	b, err := os.ReadFile(filepath.Join(dir, "VQA_RAD_Dataset_Public.json"))
	require.NoError(t, err)
	var rows []struct {
		ImageName  string `json:"image_name"`
		Question   string `json:"question"`
		Answer     string `json:"answer"`
		AnswerType string `json:"answer_type"`
		PhraseType string `json:"phrase_type"`
	}
	require.NoError(t, json.Unmarshal(b, &rows))
	var open []string
	for _, r := range rows {
		if r.PhraseType == "freeform" && (r.AnswerType == "OPEN" || withYesNo) && !slices.Contains(open, normAnswer(r.Answer)) {
			open = append(open, normAnswer(r.Answer))
		}
	}
	slices.Sort(open)
	var nClosed, nOpen, okClosed, okOpen int
	for _, r := range rows {
		if r.PhraseType != "test_freeform" {
			continue
		}
		cands := open
		if r.AnswerType == "CLOSED" {
			cands = []string{"yes", "no"}
		}
		var prompts []string
		for _, a := range cands {
			prompts = append(prompts, r.Question+" "+a)
		}
		pe := normalize(enc.texts(t, prompts))
		im := normalize(enc.images(t, []string{filepath.Join(dir, "images", r.ImageName)}))[0]
		best := 0
		s := make([]float64, len(cands))
		for c := range cands {
			s[c] = dot(im, pe[c])
			if s[c] > s[best] {
				best = c
			}
		}
		for c := range s {
			if c != best {
				o.gap(s[c], s[best])
			}
		}
		o.vqaPred = append(o.vqaPred, cands[best])
		ok := normAnswer(cands[best]) == normAnswer(r.Answer)
		if r.AnswerType == "CLOSED" {
			nClosed++
			if ok {
				okClosed++
			}
		} else {
			nOpen++
			if ok {
				okOpen++
			}
		}
	}
	o.closed = float64(okClosed) / float64(nClosed)
	o.open = float64(okOpen) / float64(nOpen)
	o.all = float64(okClosed+okOpen) / float64(nClosed+nOpen)
}

// requireMatches checks an outcome against Expected: ranks, predictions and metric values (exact fractions; the
// mean per-class recall is a sum of fractions, so it is compared to 1e-12).
func requireMatches(t *testing.T, exp *Expected, o outcome) {
	t.Helper()
	r, c, v := exp.Retrieval, exp.Classification, exp.VQA
	require.Equal(t, r.TextToImageRank, o.t2iRank, "text→image ranks")
	require.Equal(t, r.ImageToTextRanks, o.i2tRanks, "image→text ranks")
	for _, k := range []int{1, 5, 10} {
		require.Equal(t, r.ImageRetrievalRecall[k], o.imageRecall[k], "image_retrieval_recall@%d", k)
		require.Equal(t, r.TextRetrievalRecall[k], o.textRecall[k], "text_retrieval_recall@%d", k)
	}
	require.Equal(t, c.Predicted, o.clsPred, "classification predictions")
	require.Equal(t, c.LabelRank, o.clsRank, "classification label ranks")
	require.Equal(t, c.Acc1, o.acc1, "acc1")
	require.Equal(t, c.Acc5, o.acc5, "acc5")
	require.InDelta(t, c.MeanPerClassRecall, o.mpcr, 1e-12, "mean_per_class_recall")
	require.Equal(t, v.Predicted, o.vqaPred, "VQA predictions")
	require.Equal(t, v.ClosedAccuracy, o.closed, "closed accuracy")
	require.Equal(t, v.OpenAccuracy, o.open, "open accuracy")
	require.Equal(t, v.OverallAccuracy, o.all, "overall accuracy")
}

// decodePNG reads a generated PNG as 8-bit RGB rows.
func decodePNG(t *testing.T, path string) (w, h int, at func(x, y int) [3]uint8) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, path)
	rgba, ok := img.(*image.RGBA)
	require.True(t, ok, "%s decodes as %T, want *image.RGBA (8-bit RGB)", path, img)
	b := rgba.Bounds()
	return b.Dx(), b.Dy(), func(x, y int) [3]uint8 {
		c := rgba.RGBAAt(b.Min.X+x, b.Min.Y+y)
		return [3]uint8{c.R, c.G, c.B}
	}
}
