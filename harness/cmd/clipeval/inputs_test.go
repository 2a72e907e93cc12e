package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/onnxpb"
	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// fixtureArgs returns --model and the backend options of a tiny-a fixture model.
func fixtureArgs(t *testing.T, model string) []string {
	args := []string{"--model", sharedtest.Path(t, "fixtures", "tiny-a", model), "--option", "logit_scale=50"}
	if model == "clip" {
		args = append(args, "--option", "bpe="+sharedtest.Path(t, "vocab", "bpe_simple_vocab_16e6.txt.gz"))
	}
	return args
}

func referenceTexts(t *testing.T) string {
	raw, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var js struct {
		Texts []string `json:"texts"`
	}
	require.NoError(t, json.Unmarshal(raw, &js))
	p := filepath.Join(t.TempDir(), "texts.json")
	b, err := json.Marshal(js.Texts)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestPreprocessEqualsReferencePixels(t *testing.T) {
	ref, paths := referenceImages(t)
	var images []string
	for _, idx := range ref["pixels_index"].Int64 {
		images = append(images, paths[idx])
	}
	out := filepath.Join(t.TempDir(), "pixels.npy")
	args := append([]string{"preprocess", "--out", out, "--batch-size", "4"}, fixtureArgs(t, "biomedclip")...)
	code, _, errOut := cli(t, append(args, images...)...)
	require.Equal(t, 0, code, errOut)
	got, err := npy.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, []int{13, 3, 224, 224}, got.Shape)
	assert.Equal(t, ref["pixels"].Float32, got.Float32, "bit-identical to open_clip's eval transform")
}

func TestTokenizeEqualsReferenceIDs(t *testing.T) {
	ref, _ := referenceImages(t)
	texts := referenceTexts(t)
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ids.npy")
			code, _, errOut := cli(t, append([]string{"tokenize", "--texts", texts, "--out", out}, fixtureArgs(t, model)...)...)
			require.Equal(t, 0, code, errOut)
			got, err := npy.ReadFile(out)
			require.NoError(t, err)
			want := ref[model+"_token_ids"]
			assert.Equal(t, want.Shape, got.Shape)
			assert.Equal(t, want.Int64, got.Int64)
		})
	}
}

// referenceGolden writes a golden in clipeval's layout from reference.npz's inputs and outputs for model.
func referenceGolden(t *testing.T, model string) string {
	ref, _ := referenceImages(t)
	all := ref[model+"_image_embeds"]
	var imageEmbeds []float32
	for _, idx := range ref["pixels_index"].Int64 {
		imageEmbeds = append(imageEmbeds, all.Float32[int(idx)*32:(int(idx)+1)*32]...)
	}
	p := filepath.Join(t.TempDir(), model+"-golden.npz")
	require.NoError(t, npy.WriteNPZ(p, map[string]*npy.Array{
		goldenPixels:      ref["pixels"],
		goldenImageEmbeds: npy.Float32Array([]int{13, 32}, imageEmbeds),
		goldenTokenIDs:    ref[model+"_token_ids"],
		goldenTextEmbeds:  ref[model+"_text_embeds"],
	}))
	return p
}

func TestVerifyExportPassesOnFixtures(t *testing.T) {
	for _, model := range []string{"biomedclip", "clip"} {
		t.Run(model, func(t *testing.T) {
			// The 13 images travel in one EncodePixels call of 7.8 MB, above gRPC's 4 MiB default message limit.
			report := filepath.Join(t.TempDir(), "junit.xml")
			code, out, errOut := cli(t, append([]string{"verify-export", "--golden", referenceGolden(t, model), "--junit", report}, fixtureArgs(t, model)...)...)
			require.Equal(t, 0, code, out+errOut)
			assert.Regexp(t, `image_embeds +\[13,32\] .* PASS`, out)
			assert.Regexp(t, `text_embeds +\[48,32\] .* PASS`, out)
			tests, failures, cases := junitCounts(t, report)
			assert.Equal(t, []int{2, 0}, []int{tests, failures})
			assert.Equal(t, []string{"verify-export." + model + "/image_embeds", "verify-export." + model + "/text_embeds"}, cases)
		})
	}
}

func TestVerifyExportFailsOnPerturbedExport(t *testing.T) {
	src := sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip")
	dir := t.TempDir()
	for _, f := range []string{"open_clip_config.json", "vocab.txt", "tokenizer_config.json", "text.onnx", "image.onnx"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		if f == "image.onnx" {
			var name string
			b, name, err = onnxpb.ScaleInitializer(b, "head.proj", 1.01)
			require.NoError(t, err)
			t.Logf("scaled initializer %s by 1.01", name)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	report := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := cli(t, "verify-export", "--golden", referenceGolden(t, "biomedclip"), "--model", dir, "--junit", report)
	assert.Equal(t, 1, code, out+errOut)
	tests, failures, cases := junitCounts(t, report)
	assert.Equal(t, []int{2, 1}, []int{tests, failures})
	assert.Equal(t, []string{"verify-export." + filepath.Base(dir) + "/image_embeds", "verify-export." + filepath.Base(dir) + "/text_embeds"}, cases)
	junitXML, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(junitXML), `<failure message="image_embeds differs from the golden beyond the tolerances">image_embeds `)
	assert.Regexp(t, `image_embeds .* FAIL \(passes with --atol 0\.013\d*, --min-cosine 1\.00000000\)`, out)
	assert.Regexp(t, `text_embeds .* PASS`, out)
	assert.Contains(t, errOut, "1 of 2 outputs failed")
}

func TestGoldenThenVerifyRoundTrip(t *testing.T) {
	ref, paths := referenceImages(t)
	_ = ref
	golden := filepath.Join(t.TempDir(), "g.npz")
	args := append([]string{"golden", "--out", golden, "--texts", referenceTexts(t), "--images"}, paths[:3]...)
	code, out, errOut := cli(t, append(args, fixtureArgs(t, "clip")...)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "3 images, 48 texts")
	g, err := npy.ReadNPZ(golden)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 3, 224, 224}, g[goldenPixels].Shape)
	assert.Equal(t, ref["clip_token_ids"].Int64, g[goldenTokenIDs].Int64)
	assert.Equal(t, []int{48, 32}, g[goldenTextEmbeds].Shape)

	code, out, errOut = cli(t, append([]string{"verify-export", "--golden", golden, "--atol", "0", "--rtol", "0", "--min-cosine", "1"}, fixtureArgs(t, "clip")...)...)
	assert.Equal(t, 0, code, "the same export on its own golden is bit-exact: "+out+errOut)
}

func TestVerifyExportBadInput(t *testing.T) {
	dir := t.TempDir()
	onlyPixels := filepath.Join(dir, "only-pixels.npz")
	require.NoError(t, npy.WriteNPZ(onlyPixels, map[string]*npy.Array{goldenPixels: npy.Float32Array([]int{1, 1}, []float32{0})}))
	bytePixels := filepath.Join(dir, "byte-pixels.npz")
	require.NoError(t, npy.WriteNPZ(bytePixels, map[string]*npy.Array{goldenPixels: {Shape: []int{2, 1}, DType: "|u1", Uint8: []uint8{1, 2}},
		goldenImageEmbeds: npy.Float32Array([]int{2, 1}, []float32{0, 0})}))
	empty := filepath.Join(dir, "empty.npz")
	require.NoError(t, npy.WriteNPZ(empty, map[string]*npy.Array{"other": npy.Int64Array([]int{1}, []int64{1})}))
	model := fixtureArgs(t, "biomedclip")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no golden", nil, "usage: clipeval verify-export"},
		{"missing golden", []string{"--golden", filepath.Join(dir, "nope.npz")}, "no such file"},
		{"unpaired", []string{"--golden", onlyPixels}, "has pixels but no image_embeds"},
		{"uint8 pixels", []string{"--golden", bytePixels}, "pixels is |u1; want float32 pixels and int64 token_ids"},
		{"empty", []string{"--golden", empty}, "holds neither pixels + image_embeds nor token_ids + text_embeds"},
		{"bad tolerance", []string{"--golden", empty, "--atol", "-1"}, "tolerances must be non-negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, append(append([]string{"verify-export"}, tc.args...), model...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
	code, _, errOut := cli(t, "preprocess", "--model", model[1], "--out", filepath.Join(dir, "x.npy"), filepath.Join(dir, "nope.png"))
	assert.Equal(t, 2, code)
	assert.True(t, strings.Contains(errOut, "nope.png does not exist"), errOut)
}

func TestPreprocessReportsABadImage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "broken.png")
	require.NoError(t, os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644))
	for _, cmd := range []string{"preprocess", "golden"} {
		t.Run(cmd, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.npz")
			args := []string{cmd, "--out", out}
			if cmd == "golden" {
				args = append(args, "--images")
			}
			code, _, errOut := cli(t, append(append(args, bad), fixtureArgs(t, "biomedclip")...)...)
			assert.Equal(t, 2, code, "a corrupt image is bad input")
			assert.Contains(t, errOut, `plugin "onnx": Preprocess`)
			assert.Contains(t, errOut, "broken.png")
			assert.NoFileExists(t, out)
		})
	}
}

// TestPreprocessNamesADICOMFile gives preprocess DICOM files (a zero preamble, and one that starts like a TIFF
// header, as some writers make them): the error must say it is DICOM and name the file, not call it a truncated
// TIFF.
func TestPreprocessNamesADICOMFile(t *testing.T) {
	for name, preamble := range map[string]string{"zeros": "", "tiff": "II*\x00\x08\x00\x00\x00"} {
		t.Run(name, func(t *testing.T) {
			dcm := filepath.Join(t.TempDir(), "scan.dcm")
			data := append(append([]byte(preamble), make([]byte, 128-len(preamble))...), "DICM\x02\x00\x00\x00UL\x04\x00"...)
			require.NoError(t, os.WriteFile(dcm, data, 0o644))
			out := filepath.Join(t.TempDir(), "out.npy")
			code, _, errOut := cli(t, append([]string{"preprocess", "--out", out, dcm}, fixtureArgs(t, "biomedclip")...)...)
			assert.Equal(t, 2, code, "an image the backend cannot read is bad input")
			assert.Contains(t, errOut, "scan.dcm")
			assert.Contains(t, errOut, `this is a DICOM file ("DICM" at byte 128)`)
			assert.NotContains(t, errOut, "TIFF")
			assert.NoFileExists(t, out)
		})
	}
}

// TestPreprocessFailureLeavesNoFile checks that preprocess, which writes its .npy batch by batch, leaves neither the
// file nor a temporary one when an image after the first batch cannot be read.
func TestPreprocessFailureLeavesNoFile(t *testing.T) {
	_, paths := referenceImages(t)
	dir := t.TempDir()
	bad := filepath.Join(t.TempDir(), "bad.png")
	require.NoError(t, os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot a png"), 0o644))
	out := filepath.Join(dir, "pixels.npy")
	args := append([]string{"preprocess", "--out", out, "--batch-size", "1"}, fixtureArgs(t, "biomedclip")...)
	code, _, errOut := cli(t, append(args, paths[0], paths[1], bad)...)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "bad.png")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no output, no temporary file")
}
