// Package pluginsums reads and writes a plugin folder's checksum list (SHA256SUMS), which the plugin host checks
// every plugin against before it starts it, and `make build` and the tests that build plugins write.
package pluginsums

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk/digest"
)

// File is the name of a plugin folder's checksum list: one line per plugin file, "HEX  NAME" with the file's
// SHA-256 in lower-case hex, two spaces and its file name, sorted by name — the format of `sha256sum`, so that
// `cd bin/plugins && sha256sum -c SHA256SUMS` checks it too. `make build` writes it (Write); the host starts only
// the files it lists with their checksum.
const File = "SHA256SUMS"

// maxSumsBytes bounds the checksum list read: 1 MiB is some ten thousand plugins.
const maxSumsBytes = 1 << 20

// Sums maps a plugin's file name to the hex SHA-256 of its file.
type Sums map[string]string

// Read reads the checksum list of the plugin folder dir. A folder without one is an error that wraps
// fs.ErrNotExist.
func Read(dir string) (Sums, error) {
	path := filepath.Join(dir, File)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin checksum list: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSumsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the plugin checksum list %s: %w", path, err)
	}
	if len(b) > maxSumsBytes {
		return nil, fmt.Errorf("plugin checksum list %s is over %d bytes: it is not one `make build` wrote; rebuild the plugins with `make build`", path, maxSumsBytes)
	}
	return Parse(b, path)
}

// Parse parses a checksum list's bytes; file names the list in errors. Blank lines are skipped; "HEX *NAME"
// (sha256sum's binary mode) is read as "HEX  NAME".
func Parse(b []byte, file string) (Sums, error) {
	sums := Sums{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("plugin checksum list %s line %d: %s (want \"SHA256  NAME\"); rebuild the plugins with `make build`, "+
				"or rewrite the list with `clipeval plugins --write-sums PLUGIN...`", file, i+1, why)
		}
		sum, name, ok := strings.Cut(line, " ")
		if !ok || len(name) < 2 || (name[0] != ' ' && name[0] != '*') {
			return nil, bad("not a checksum line")
		}
		name = name[1:]
		if d, err := hex.DecodeString(sum); err != nil || len(d) != sha256.Size || sum != strings.ToLower(sum) {
			return nil, bad(fmt.Sprintf("%q is not a SHA-256 in lower-case hex", sum))
		}
		if err := fileName(name); err != nil {
			return nil, bad(err.Error())
		}
		if _, dup := sums[name]; dup {
			return nil, bad(fmt.Sprintf("%s is listed twice", name))
		}
		sums[name] = sum
	}
	return sums, nil
}

// Format returns the list in File's format, sorted by name.
func (s Sums) Format() []byte {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "%s  %s\n", s[name], name)
	}
	return b.Bytes()
}

// fileName checks that name is a plain file name: a plugin in the folder itself, not a path out of it.
func fileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00\n") {
		return fmt.Errorf("%q is not a file name", name)
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 of the file at path (digest.File's).
func FileSHA256(path string) (string, error) {
	sum, err := digest.File(path)
	if err != nil {
		return "", fmt.Errorf("checksumming plugin: %w", err)
	}
	return sum.SHA256, nil
}

// Write records the plugin files names of folder dir in its checksum list: it adds or updates their lines,
// keeps the lines of the other files still in dir, drops those of files gone, and replaces the list atomically
// (a temporary file renamed over it). `make build` calls it (through `clipeval plugins --write-sums`) with the
// plugins it built, as do the tests that build their own.
func Write(dir string, names ...string) error {
	sums, err := Read(dir)
	if errors.Is(err, fs.ErrNotExist) {
		sums, err = Sums{}, nil
	}
	if err != nil {
		return err
	}
	for name := range sums {
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			delete(sums, name)
		}
	}
	for _, name := range names {
		if err := fileName(name); err != nil {
			return fmt.Errorf("recording a plugin checksum: %w (give files of the plugin folder %s)", err, dir)
		}
		if name == File {
			return fmt.Errorf("recording a plugin checksum: %s is the checksum list itself, not a plugin", filepath.Join(dir, name))
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("recording a plugin checksum: %w", err)
		}
		if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("recording a plugin checksum: %s is not an executable file", path)
		}
		if sums[name], err = FileSHA256(path); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, File), sums.Format())
}

// writeAtomic writes b to path through a temporary file in its folder renamed over it, so that a reader sees the
// old list or the new one, never a part.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the plugin checksum list: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the plugin checksum list %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the plugin checksum list %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the plugin checksum list %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the plugin checksum list: %w", err)
	}
	return nil
}
