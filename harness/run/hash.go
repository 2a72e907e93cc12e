package run

import (
	"errors"
	"fmt"
	"os"

	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
)

// datasetHash identifies a dataset's content for provenance.
type datasetHash struct {
	sum   string
	files int
	bytes int64
}

// hashFiles hashes a dataset's files by the formula digest.DatasetOf documents. A file that is one of images with
// a dataset folder (sdk.ImageInput.Root) is opened inside it, as the backend opens it, never through a link out of
// it: a file swapped for such a link after Load is left out of the digest, unread (the runs refuse it, or skip it,
// when they get to it).
func hashFiles(paths []string, images []sdk.ImageInput) (datasetHash, error) {
	roots := map[string]string{}
	for _, im := range images {
		if im.Root != "" && im.Path != "" {
			roots[im.Path] = im.Root
		}
	}
	d, err := digest.DatasetOf(paths, func(p string) (*os.File, error) {
		if root, ok := roots[p]; ok {
			f, err := sdk.OpenInRoot(root, p)
			if errors.Is(err, sdk.ErrOutsideRoot) {
				return nil, fmt.Errorf("%w: %w", digest.ErrLeftOut, err)
			}
			return f, err
		}
		return os.Open(p)
	})
	return datasetHash{sum: d.SHA256, files: d.Files, bytes: d.Bytes}, err
}
