package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImageBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shard.tar")
	require.NoError(t, os.WriteFile(path, []byte("0123456789"), 0o644))
	missing := filepath.Join(dir, "missing.png")
	tests := []struct {
		name string
		in   ImageInput
		want string
		err  string
	}{
		{"whole file", FileImage(path), "0123456789", ""},
		{"range", ImageInput{Path: path, Offset: 2, Size: 3}, "234", ""},
		{"range at the start", ImageInput{Path: path, Size: 1}, "0", ""},
		{"range to the end", ImageInput{Path: path, Offset: 4, Size: 6}, "456789", ""},
		{"data inline", ImageInput{Name: "inline", Path: missing, Data: []byte("png")}, "png", ""},
		{"range past EOF", ImageInput{Path: path, Offset: 8, Size: 3}, "",
			fmt.Sprintf("image %[1]s@8+3: byte range 8+3 ends past the end of %[1]s (10 bytes); was the file changed?", path)},
		{"range past EOF, named", ImageInput{Name: "shard.tar#a.jpg", Path: path, Offset: 10, Size: 1}, "",
			fmt.Sprintf("image shard.tar#a.jpg: byte range 10+1 ends past the end of %s (10 bytes); was the file changed?", path)},
		{"negative offset", ImageInput{Path: path, Offset: -1, Size: 2}, "",
			fmt.Sprintf("image %s@-1+2: byte range -1+2 is invalid (size must be 1..1073741824)", path)},
		{"offset without size", ImageInput{Path: path, Offset: 3}, "",
			fmt.Sprintf("image %s: byte range 3+0 is invalid (size must be 1..1073741824)", path)},
		{"negative size", ImageInput{Name: "n", Path: path, Size: -5}, "", "image n: byte range 0+-5 is invalid (size must be 1..1073741824)"},
		{"size too large", ImageInput{Name: "n", Path: path, Size: MaxImageBytes + 1}, "",
			"image n: byte range 0+1073741825 is invalid (size must be 1..1073741824)"},
		{"missing path", FileImage(missing), "", fmt.Sprintf("reading image: open %s: no such file or directory", missing)},
		{"missing path with range", ImageInput{Path: missing, Offset: 1, Size: 1}, "",
			fmt.Sprintf("reading image %[1]s@1+1: open %[1]s: no such file or directory", missing)},
		{"neither path nor data", ImageInput{Name: "x"}, "", `image "x" has neither a path nor data`},
		{"nothing at all", ImageInput{}, "", `image "" has neither a path nor data`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.Bytes()
			if tc.err != "" {
				require.Error(t, err)
				assert.Equal(t, tc.err, err.Error())
				assert.Nil(t, b)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
		})
	}
}

func TestImageLabel(t *testing.T) {
	tests := []struct {
		in   ImageInput
		want string
	}{
		{ImageInput{Name: "a.jpg", Path: "/d/s.tar", Offset: 1, Size: 2}, "a.jpg"},
		{ImageInput{Path: "/d/s.tar", Offset: 512, Size: 1024}, "/d/s.tar@512+1024"},
		{FileImage("/d/a.png"), "/d/a.png"},
		{ImageInput{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.in.Label())
		})
	}
}
