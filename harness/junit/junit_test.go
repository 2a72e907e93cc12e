package junit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/junittest"
)

func TestMarshal(t *testing.T) {
	s := New("clipeval compare")
	s.Add("m.t", Case{Name: "acc1", Classname: "m.t", SystemOut: "50.00 → 51.00"})
	s.Add("m.t", Case{Name: "acc5", Classname: "m.t", Failure: &Failure{Message: "dropped <1 point> & more", Text: "details"}})
	s.Add("m.u", Case{Name: "(run)", Classname: "m.u", Skipped: &Skipped{Message: "baseline run failed"}})
	b, err := s.Marshal()
	require.NoError(t, err)
	assert.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="clipeval compare" tests="3" failures="1" errors="0" skipped="1">
  <testsuite name="m.t" tests="2" failures="1" errors="0" skipped="0">
    <testcase name="acc1" classname="m.t">
      <system-out>50.00 → 51.00</system-out>
    </testcase>
    <testcase name="acc5" classname="m.t">
      <failure message="dropped &lt;1 point&gt; &amp; more">details</failure>
    </testcase>
  </testsuite>
  <testsuite name="m.u" tests="1" failures="0" errors="0" skipped="1">
    <testcase name="(run)" classname="m.u">
      <skipped message="baseline run failed"></skipped>
    </testcase>
  </testsuite>
</testsuites>
`, string(b))
	require.NoError(t, junittest.Validate(b))

	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, s.WriteFile(path))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, b, onDisk)
	assert.ErrorContains(t, s.WriteFile(filepath.Join(path, "sub.xml")), "writing JUnit XML")
}
