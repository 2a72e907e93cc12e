package demogen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// startORT loads ONNX Runtime (the environment is process-wide, so once per test binary).
func startORT(t *testing.T) {
	t.Helper()
	lib := sharedtest.ORTLib(t)
	if ort.IsInitialized() {
		return
	}
	ort.SetSharedLibraryPath(lib)
	require.NoError(t, ort.InitializeEnvironment(), "loading ONNX Runtime from %s", lib)
}

// runTower feeds one input tensor to an ONNX file and returns the float32 output [batch, EmbedDim] as rows.
func runTower[T float32 | int64](t *testing.T, model, in, out string, shape ort.Shape, data []T) [][]float64 {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSession(model, []string{in}, []string{out}, nil)
	require.NoError(t, err)
	defer s.Destroy()
	x, err := ort.NewTensor(shape, data)
	require.NoError(t, err)
	defer x.Destroy()
	outs := []ort.Value{nil}
	require.NoError(t, s.Run([]ort.Value{x}, outs))
	defer outs[0].Destroy()
	y, ok := outs[0].(*ort.Tensor[float32])
	require.True(t, ok, "output %s is %T", out, outs[0])
	require.Equal(t, ort.NewShape(shape[0], EmbedDim), y.GetShape())
	rows := make([][]float64, shape[0])
	for i := range rows {
		for _, v := range y.GetData()[i*EmbedDim : (i+1)*EmbedDim] {
			rows[i] = append(rows[i], float64(v))
		}
	}
	return rows
}

// pixels appends one image's preprocessed values, channel-major, the way open_clip's eval transform gives them:
// (v/255 - mean)/std in float32.
func pixels(dst []float32, at func(x, y int) [3]uint8) []float32 {
	mean, std := clipMean(), clipStd()
	for c := range 3 {
		for y := range ImageSize {
			for x := range ImageSize {
				v := float32(at(x, y)[c]) / 255
				dst = append(dst, (v-float32(mean[c]))/float32(std[c]))
			}
		}
	}
	return dst
}

// ortEncoder runs the generated ONNX files. Images are fed as decoded when ImageSize square; the larger ones are
// solid, and resizing and centre-cropping a solid image gives the same colour at ImageSize, so they are fed as
// that. Texts are tokenized with the written vocab.txt: lower case, split on spaces and punctuation, whole words.
func ortEncoder(t *testing.T, dir string) encoder {
	b, err := os.ReadFile(filepath.Join(dir, "model", "vocab.txt"))
	require.NoError(t, err)
	ids := map[string]int64{}
	for i, w := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		ids[w] = int64(i)
	}
	return encoder{
		images: func(t *testing.T, paths []string) [][]float64 {
			var data []float32
			for _, p := range paths {
				w, h, at := decodePNG(t, p)
				if w != ImageSize || h != ImageSize {
					for y := range h {
						for x := range w {
							require.Equal(t, at(0, 0), at(x, y), "%s: a non-square demo image must be solid", p)
						}
					}
					solid := at(0, 0)
					at = func(int, int) [3]uint8 { return solid }
				}
				data = pixels(data, at)
			}
			return runTower(t, filepath.Join(dir, "model", "image.onnx"), "pixel_values", "image_embeds",
				ort.NewShape(int64(len(paths)), 3, ImageSize, ImageSize), data)
		},
		texts: func(t *testing.T, texts []string) [][]float64 {
			var data []int64
			for _, s := range texts {
				row := []int64{ids["[CLS]"]}
				for _, w := range strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace) {
					for _, piece := range strings.FieldsFunc(strings.NewReplacer(".", " . ", ",", " , ", "?", " ? ").Replace(w), unicode.IsSpace) {
						id, ok := ids[piece]
						require.True(t, ok, "%q: %q is not in vocab.txt", s, piece)
						row = append(row, id)
					}
				}
				row = append(row, ids["[SEP]"])
				require.LessOrEqual(t, len(row), ContextLength, s)
				data = append(data, append(row, make([]int64, ContextLength-len(row))...)...)
			}
			return runTower(t, filepath.Join(dir, "model", "text.onnx"), "input_ids", "text_embeds",
				ort.NewShape(int64(len(texts)), ContextLength), data)
		},
	}
}

func TestTowersInputsAndOutputs(t *testing.T) {
	startORT(t)
	dir := t.TempDir()
	_, err := Generate(dir)
	require.NoError(t, err)
	for _, tc := range []struct {
		file              string
		in                string
		inType            ort.TensorElementDataType
		inShape, outShape ort.Shape
		out               string
	}{
		{"image.onnx", "pixel_values", ort.TensorElementDataTypeFloat, ort.NewShape(-1, 3, 32, 32), ort.NewShape(-1, 8), "image_embeds"},
		{"text.onnx", "input_ids", ort.TensorElementDataTypeInt64, ort.NewShape(-1, 16), ort.NewShape(-1, 8), "text_embeds"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ins, outs, err := ort.GetInputOutputInfo(filepath.Join(dir, "model", tc.file))
			require.NoError(t, err)
			require.Len(t, ins, 1)
			require.Len(t, outs, 1)
			assert.Equal(t, tc.in, ins[0].Name)
			assert.Equal(t, tc.inType, ins[0].DataType)
			assert.Equal(t, tc.inShape, ins[0].Dimensions)
			assert.Equal(t, tc.out, outs[0].Name)
			assert.Equal(t, ort.TensorElementDataType(ort.TensorElementDataTypeFloat), outs[0].DataType)
			assert.Equal(t, tc.outShape, outs[0].Dimensions)
		})
	}
}

// TestImageTowerHandFed feeds solid colours (and one half/half image) built from the preprocessing formula; the
// tower must return (r, g, b, 0.25, 0, 0, 0, 0) with r, g, b the mean colour in [0, 1].
func TestImageTowerHandFed(t *testing.T) {
	startORT(t)
	dir := t.TempDir()
	_, err := Generate(dir)
	require.NoError(t, err)
	cases := []struct {
		name        string
		left, right [3]uint8
		want        []float64
	}{
		{"red", [3]uint8{255, 0, 0}, [3]uint8{255, 0, 0}, []float64{1, 0, 0, 0.25, 0, 0, 0, 0}},
		{"black", [3]uint8{0, 0, 0}, [3]uint8{0, 0, 0}, []float64{0, 0, 0, 0.25, 0, 0, 0, 0}},
		{"azure", [3]uint8{0, 128, 255}, [3]uint8{0, 128, 255}, []float64{0, 128.0 / 255, 1, 0.25, 0, 0, 0, 0}},
		{"red|green", [3]uint8{255, 0, 0}, [3]uint8{0, 255, 0}, []float64{0.5, 0.5, 0, 0.25, 0, 0, 0, 0}},
	}
	var data []float32
	for _, tc := range cases {
		data = pixels(data, func(x, _ int) [3]uint8 {
			if x < ImageSize/2 {
				return tc.left
			}
			return tc.right
		})
	}
	got := runTower(t, filepath.Join(dir, "model", "image.onnx"), "pixel_values", "image_embeds",
		ort.NewShape(int64(len(cases)), 3, ImageSize, ImageSize), data)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.InDeltaSlice(t, tc.want, got[i], 2e-6) })
	}
}

// TestTextTowerHandFed feeds token ids of a few texts; the tower must return the exact sum of their word vectors.
func TestTextTowerHandFed(t *testing.T) {
	startORT(t)
	dir := t.TempDir()
	_, err := Generate(dir)
	require.NoError(t, err)
	cases := []struct {
		text string
		want []float64
	}{
		{"a red image.", []float64{1, 0, 0, 0, 0, 0, 0, 0}},
		{"bright yellow", []float64{1, 1, 0, -1, 0, 0, 0, 0}},
		{"half red, half green", []float64{1, 1, 0, 0, 0, 0.25, 0, 0}},
		{"red, mostly", []float64{1, 0, 0, 0, 0.75, 0, 0, 0}},
		{"a grey image.", []float64{1, 1, 1, 1, 0, 0, 0, 0}},
		{"is the image yellow? no", []float64{1, 1, 0, 4, 0, 0, 0, 0}},
		{"is the image red? yes", []float64{1, 0, 0, 0.25, 0, 0, 0, 0}},
		{"", []float64{0, 0, 0, 0, 0, 0, 0, 0}},
	}
	var texts []string
	for _, tc := range cases {
		texts = append(texts, tc.text)
	}
	got := ortEncoder(t, dir).texts(t, texts)
	for i, tc := range cases {
		t.Run(tc.text, func(t *testing.T) { assert.Equal(t, tc.want, got[i]) })
	}
}

// TestORTOutcomes scores the written data with the written models in ONNX Runtime; every rank, prediction and
// metric must be the expected one, with "yes"/"no" among the open candidates or not.
func TestORTOutcomes(t *testing.T) {
	startORT(t)
	dir := t.TempDir()
	exp, err := Generate(dir)
	require.NoError(t, err)
	enc := ortEncoder(t, dir)
	for _, withYesNo := range []bool{false, true} {
		o := evaluate(t, dir, enc, withYesNo)
		requireMatches(t, exp, o)
		require.GreaterOrEqual(t, o.margin, 0.009, "smallest deciding cosine gap")
	}
}
