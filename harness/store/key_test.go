package store

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/plugins/sdk"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string // sha256 of the domain tag and the content, computed independently
	}{
		{"text", TextKey("a photo of a cat"), "45acfa0c4e44205269f4f5dd968d5e6e7b77f2136fa2d0d6d787b04e6ea7a528"},
		{"empty text", TextKey(""), "619be496336510a6ba6d293cf53b436b7eb7c09dd209989264c663420e7dbcde"},
		{"image", ImageKey([]byte("\x89PNG")), "0bdc3855ebca8295c66ed26eea39e824c52bbba42c5343429a575f871e8cef72"},
		{"empty image", ImageKey(nil), "5c6643691c41e1f5aed9490ae265352e917a00c5b5d20577e6da57c20d57e52a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.key.String())
		})
	}
	assert.NotEqual(t, TextKey("x"), ImageKey([]byte("x")), "an image and a text with the same bytes are apart")
	k, err := ImageKeyReader(bytes.NewReader([]byte("\x89PNG")))
	require.NoError(t, err)
	assert.Equal(t, ImageKey([]byte("\x89PNG")), k)
}

func TestModelFingerprint(t *testing.T) {
	base := func() Fingerprint {
		return Fingerprint{
			Backend: "onnx", BackendVersion: "v0.3.0", Runtime: "onnxruntime 1.30.0",
			Files:     map[string]string{"image.onnx": "aa", "text.onnx": "bb", "open_clip_config.json": "cc"},
			Options:   map[string]string{"bpe": "vocab.txt.gz"},
			ImageSize: 224, ContextLength: 77, Tokenizer: "clip-bpe",
		}
	}
	// The encoding is part of the store's format (this value, computed independently from the documented encoding,
	// changes only with fingerprintVersion).
	assert.Equal(t, "4cbdd1d237886d3531948c4d703fbfb063af22b926ba61b7df88290e6493242a", ModelFingerprint(base()))

	changes := []struct {
		name   string
		change func(*Fingerprint)
	}{
		{"backend", func(f *Fingerprint) { f.Backend = "onnx2" }},
		{"backend version", func(f *Fingerprint) { f.BackendVersion = "v0.3.1" }},
		{"runtime", func(f *Fingerprint) { f.Runtime = "onnxruntime 1.31.0" }},
		{"a file's digest", func(f *Fingerprint) { f.Files["image.onnx"] = "ab" }},
		{"a file more", func(f *Fingerprint) { f.Files["extra.json"] = "dd" }},
		{"a file renamed", func(f *Fingerprint) { f.Files["image2.onnx"] = f.Files["image.onnx"]; delete(f.Files, "image.onnx") }},
		{"an option", func(f *Fingerprint) { f.Options["bpe"] = "other.txt.gz" }},
		{"no options", func(f *Fingerprint) { f.Options = nil }},
		{"image size", func(f *Fingerprint) { f.ImageSize = 336 }},
		{"context length", func(f *Fingerprint) { f.ContextLength = 256 }},
		{"tokenizer", func(f *Fingerprint) { f.Tokenizer = "bert-wordpiece" }},
		{"a field's bytes moved to the next", func(f *Fingerprint) { f.Backend, f.BackendVersion = "onnxv", "0.3.0" }},
		{"a map key's bytes moved to its value", func(f *Fingerprint) { f.Options = map[string]string{"bp": "evocab.txt.gz"} }},
		{"an option moved to the files", func(f *Fingerprint) { f.Files["bpe"] = f.Options["bpe"]; f.Options = nil }},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.change(&f)
			assert.NotEqual(t, ModelFingerprint(base()), ModelFingerprint(f))
		})
	}

	t.Run("map order", func(t *testing.T) {
		for range 20 { // Go randomises map iteration: build the maps anew each time
			assert.Equal(t, ModelFingerprint(base()), ModelFingerprint(base()))
		}
	})
	t.Run("from the SDK", func(t *testing.T) {
		info := sdk.ModelInfo{Name: "ignored", EmbedDim: 512, ImageSize: 224, ContextLength: 77, Tokenizer: "clip-bpe",
			Files: base().Files, Runtime: "onnxruntime 1.30.0", LogitScale: 100}
		f := FingerprintOf(sdk.PluginInfo{Name: "onnx", Version: "v0.3.0"}, base().Options, info)
		assert.Equal(t, base(), f)
	})
	t.Run("options that keep embeddings are left out", func(t *testing.T) {
		info := sdk.ModelInfo{Files: base().Files, Runtime: "onnxruntime 1.30.0", ImageSize: 224, ContextLength: 77, Tokenizer: "clip-bpe"}
		plugin := sdk.PluginInfo{Name: "onnx", Version: "v0.3.0", OptionFields: []sdk.Field{
			{Name: "threads", Type: sdk.FieldInt, KeepsEmbeddings: true}, {Name: "bpe", Type: sdk.FieldPath}}}
		fp := func(options map[string]string) string { return ModelFingerprint(FingerprintOf(plugin, options, info)) }
		with := fp(map[string]string{"threads": "2", "bpe": "a.gz"})
		assert.Equal(t, with, fp(map[string]string{"threads": "8", "bpe": "a.gz"}), "a thread count changes no embedding")
		assert.Equal(t, with, fp(map[string]string{"bpe": "a.gz"}), "nor does leaving it out")
		assert.NotEqual(t, with, fp(map[string]string{"threads": "2", "bpe": "b.gz"}), "another tokenizer file does")
		assert.NotEqual(t, with, fp(map[string]string{"threads": "2", "bpe": "a.gz", "undeclared": "x"}), "an undeclared option is kept")
	})
}
