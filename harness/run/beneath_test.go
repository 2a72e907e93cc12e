package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/internal/demogen"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// TestImageReplacedByALinkAfterLoadIsRefused replaces an image of the demo's retrieval and classification tasks by
// a symbolic link to a file outside the dataset once those tasks are loaded (as the VQA task loads): the runs that
// read it fail as bad input, naming it, and no byte of the outside file reaches the results.
func TestImageReplacedByALinkAfterLoadIsRefused(t *testing.T) {
	demo := t.TempDir()
	_, err := demogen.Generate(demo)
	require.NoError(t, err)
	secret := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644))
	blue := filepath.Join(demo, "data", "images", "blue.png")
	r, _ := newRunner(t)
	swapped := false
	r.Progress = func(ev Event) {
		if ev.Stage == "load" && ev.Task == "colour-vqa" && !swapped {
			require.NoError(t, os.Remove(blue))
			require.NoError(t, os.Symlink(secret, blue))
			swapped = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := r.Run(ctx, plan.New(loadConfig(t, "demo.yaml", map[string]string{"CLIPEVAL_DEMO": demo}), t.TempDir(), "test"))
	require.True(t, swapped)
	require.ErrorIs(t, err, ErrRunsFailed)
	assert.True(t, sdk.IsInvalidInput(err), "bad input: %v", err)
	require.Len(t, res.Runs, 3)
	for _, run := range res.Runs[:2] {
		assert.Contains(t, run.Error, blue+" leads to "+secret+", outside the dataset folder "+filepath.Join(demo, "data"))
		assert.NotContains(t, run.Error, "72 6f 6f 74", "the first bytes of the outside file")
		assert.NotContains(t, run.Error, "root:x")
	}
	assert.Empty(t, res.Runs[2].Error, "the VQA task's images are untouched")
}
