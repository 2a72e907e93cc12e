package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzipped returns data as one gzip member.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestReadWebDatasetRefusesBomb reads a .tar.gz shard of about 2 MiB whose one member, a.png, inflates to 2 GiB of
// zeros: the expansion check refuses it after inflating 100 times the shard's size, quickly, without allocating
// anything like the member, and nothing is extracted. The shard is written as concatenated gzip members (which a
// gzip stream may be): the tar header, then one compressed 8 MiB run of zeros written 256 times, then the end of
// the archive.
func TestReadWebDatasetRefusesBomb(t *testing.T) {
	const member = 2 << 30
	var header bytes.Buffer
	require.NoError(t, tar.NewWriter(&header).WriteHeader(&tar.Header{Name: "a.png", Mode: 0o644, Size: member, Typeflag: tar.TypeReg}))
	shard := filepath.Join(t.TempDir(), "bomb.tar.gz")
	f, err := os.Create(shard)
	require.NoError(t, err)
	_, err = f.Write(gzipped(t, header.Bytes()))
	require.NoError(t, err)
	const run = 8 << 20
	zeros := gzipped(t, make([]byte, run))
	for range member / run {
		_, err = f.Write(zeros)
		require.NoError(t, err)
	}
	_, err = f.Write(gzipped(t, make([]byte, 2*512)))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	st, err := os.Stat(shard)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(4<<20), "the bomb is small")

	work := t.TempDir()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = ReadWebDataset([]string{shard}, "cls", WebOptions{Spool: NewSpool(work)})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	limit := 100 * st.Size()
	assert.ErrorContains(t, err, "shard "+shard+" expands to more than "+itoa(limit)+" bytes (100 times its "+itoa(st.Size())+
		" compressed bytes; stopped after inflating "+itoa(limit+1)+"): refused as a likely decompression bomb; "+
		"if the shard is genuine, raise the dataset option max_expansion")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated while refusing the bomb")
	assert.Less(t, elapsed, 30*time.Second)
	entries, err := os.ReadDir(work)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing extracted")
}

// itoa formats n in decimal.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
