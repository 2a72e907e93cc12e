package sdk

import (
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by ReadFileAtMost's error for a file over its limit.
var ErrTooLarge = fmt.Errorf("file too large")

// ReadFileAtMost reads the whole file at path, refusing one of more than limit bytes before reading it (and one
// that grows past limit while it is read): for configs, manifests and other files read whole into memory, so that
// a wrong path (a disk image, /dev/zero) or a hostile file costs an error, not the machine's memory.
func ReadFileAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d clipeval reads from such a file: %w", path, st.Size(), limit, ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s holds more than the %d bytes clipeval reads from such a file: %w", path, limit, ErrTooLarge)
	}
	return b, nil
}
