package datasets

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipeval/clipeval/benchmarks/internal/testutil"
)

// BenchmarkReadDICOM converts a 512×512 16-bit CT-like slice (rescale and window) to 8-bit grayscale.
func BenchmarkReadDICOM(b *testing.B) {
	pixels := make([]uint16, 512*512)
	for i := range pixels {
		pixels[i] = uint16(i % 4096)
	}
	p := testutil.WriteDICOM(b, filepath.Join(b.TempDir(), "ct.dcm"), testutil.ExplicitVRLittleEndian,
		append(testutil.Gray("MONOCHROME2", 512, 512, 16, 12, 0, pixels),
			ds(windowCenter, "40"), ds(windowWidth, "400"), ds(rescaleIntercept, "-1024"), ds(rescaleSlope, "1"))...)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadDICOM(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadWebDataset streams a shard of 1,000 samples (a 16 KiB image, a class and a caption each).
func BenchmarkReadWebDataset(b *testing.B) {
	var members []testutil.TarMember
	img := strings.Repeat("x", 16<<10)
	for i := range 1000 {
		k := fmt.Sprintf("%06d", i)
		members = append(members, testutil.TarMember{Name: k + ".jpg", Content: img},
			testutil.TarMember{Name: k + ".cls", Content: "1"}, testutil.TarMember{Name: k + ".txt", Content: "a caption"})
	}
	shard := testutil.WriteTar(b, filepath.Join(b.TempDir(), "s.tar"), members...)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadWebDataset([]string{shard}, "cls", WebOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
