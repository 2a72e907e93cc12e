package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateThenUpToDate(t *testing.T) {
	tmp := t.TempDir()
	tok := filepath.Join(tmp, "tok")
	require.NoError(t, os.Mkdir(tok, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tok, "vocab.txt"), []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nchest\n"), 0o644))
	cfg := filepath.Join(tmp, "small.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"vision": {"image_size": 32, "patch": 16, "width": 16, "layers": 1, "heads": 2, "mlp": 32},
		"text": {"vocab": 16, "max_positions": 20, "type_vocab": 2, "width": 16, "layers": 1, "heads": 2, "mlp": 32, "context_length": 20},
		"embed_dim": 8}`), 0o644))
	out := filepath.Join(tmp, "model")
	args := []string{"-out", out, "-tokenizer", tok, "-config", cfg}

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(args, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "generating "+out+": no bench-model.json")
	assert.Contains(t, stdout.String(), "wrote "+out+": 4 files")
	for _, f := range []string{"image.onnx", "text.onnx", "open_clip_config.json", "vocab.txt", "bench-model.json"} {
		assert.FileExists(t, filepath.Join(out, f))
	}

	stdout.Reset()
	require.NoError(t, run(args, &stdout, &stderr))
	assert.Equal(t, out+" is up to date (generator version 1)\n", stdout.String())

	stdout.Reset()
	require.NoError(t, run(append(args, "-seed", "3"), &stdout, &stderr))
	assert.Contains(t, stdout.String(), "made from another configuration")
}

func TestBadArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"-config", "/nonexistent.json"}, &stdout, &stderr)
	var u usageError
	require.ErrorAs(t, err, &u)
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"vision": {"layer": 3}}`), 0o644))
	err = run([]string{"-config", bad}, &stdout, &stderr)
	assert.ErrorContains(t, err, `unknown field "layer"`)
	err = run([]string{"-gelu", "tanh", "-out", t.TempDir()}, &stdout, &stderr)
	assert.ErrorContains(t, err, `gelu "tanh"`)
}
