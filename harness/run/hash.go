package run

import "github.com/clipeval/clipeval/plugins/sdk/digest"

// datasetHash identifies a dataset's content for provenance.
type datasetHash struct {
	sum   string
	files int
	bytes int64
}

// hashFiles hashes a dataset's files by the formula digest.DatasetOf documents.
func hashFiles(paths []string) (datasetHash, error) {
	d, err := digest.DatasetOf(paths)
	return datasetHash{sum: d.SHA256, files: d.Files, bytes: d.Bytes}, err
}
