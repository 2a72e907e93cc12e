// Package testutil holds helpers the benchmark task tests share: writing small data sets into a temporary folder,
// and reading task scores back as tables.
package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// WriteFiles creates files (name → content) under dir, with their folders.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, n)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
	}
}

// VQARow is one question of a made-up VQA-RAD release. Answer is any JSON value (the release has numbers too).
type VQARow struct {
	QID        any    `json:"qid"`
	Image      string `json:"image_name"`
	Question   string `json:"question"`
	Answer     any    `json:"answer"`
	AnswerType string `json:"answer_type"`
	PhraseType string `json:"phrase_type"`
	Organ      string `json:"image_organ"`
}

// WriteVQARAD writes rows as dir/VQA_RAD_Dataset_Public.json and an empty dir/images/<name> for every image the
// rows name, and returns dir.
func WriteVQARAD(t testing.TB, dir string, rows []VQARow) string {
	t.Helper()
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	files := map[string]string{"VQA_RAD_Dataset_Public.json": string(b)}
	for _, r := range rows {
		files[filepath.Join("images", r.Image)] = ""
	}
	WriteFiles(t, dir, files)
	return dir
}

// SLAKERow is one question of a made-up SLAKE release.
type SLAKERow struct {
	QID        int    `json:"qid"`
	Image      string `json:"img_name"`
	Question   string `json:"question"`
	Answer     string `json:"answer"`
	AnswerType string `json:"answer_type"`
	Lang       string `json:"q_lang"`
}

// WriteSLAKE writes the question files (file name → rows) into dir and an empty dir/imgs/<img_name> for every
// image the rows name, and returns dir.
func WriteSLAKE(t testing.TB, dir string, files map[string][]SLAKERow) string {
	t.Helper()
	out := map[string]string{}
	for name, rows := range files {
		b, err := json.Marshal(rows)
		require.NoError(t, err)
		out[name] = string(b)
		for _, r := range rows {
			out[filepath.Join("imgs", r.Image)] = ""
		}
	}
	WriteFiles(t, dir, out)
	return dir
}
