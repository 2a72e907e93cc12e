package junit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, Validate(b))

	path := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, s.WriteFile(path))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, b, onDisk)
	assert.ErrorContains(t, s.WriteFile(filepath.Join(path, "sub.xml")), "writing JUnit XML")
}

func TestValidate(t *testing.T) {
	const head = `<?xml version="1.0"?>` + "\n"
	tests := []struct {
		name, doc, wantErr string
	}{
		{"minimal valid", `<testsuites tests="1"><testsuite name="s" tests="1"><testcase name="a" classname="c"/></testsuite></testsuites>`, ""},
		{"optional elements and zero counts omitted", `<testsuites><testsuite name="s" tests="2"><properties/>` +
			`<testcase name="a" classname="c"><error message="boom"/><system-err>x</system-err></testcase>` +
			`<testcase name="b" classname="c"><skipped/></testcase><system-out/></testsuite></testsuites>`,
			`testsuite "s" has no errors attribute (want 1)`},
		{"empty", ``, "malformed XML"},
		{"unclosed", `<testsuites><testsuite name="s" tests="0">`, "malformed XML"},
		{"wrong root", `<testsuite name="s" tests="0"/>`, "root element is <testsuite>"},
		{"stray element", `<testsuites><case/></testsuites>`, "<testsuites> holds <case>"},
		{"suite without name", `<testsuites><testsuite tests="0"/></testsuites>`, "a <testsuite> has no name"},
		{"suite without tests", `<testsuites><testsuite name="s"/></testsuites>`, `testsuite "s" has no tests attribute (want 0)`},
		{"case without classname", `<testsuites><testsuite name="s" tests="1"><testcase name="a"/></testsuite></testsuites>`,
			"lacks its name or classname"},
		{"unknown element in case", `<testsuites><testsuite name="s" tests="1"><testcase name="a" classname="c"><oops/></testcase></testsuite></testsuites>`,
			`testcase "a" holds <oops>`},
		{"failure without message", `<testsuites><testsuite name="s" tests="1" failures="1"><testcase name="a" classname="c"><failure/></testcase></testsuite></testsuites>`,
			"<failure> has no message"},
		{"two outcomes", `<testsuites><testsuite name="s" tests="1" failures="1" skipped="1"><testcase name="a" classname="c"><failure message="x"/><skipped/></testcase></testsuite></testsuites>`,
			"has 2 outcomes"},
		{"suite count wrong", `<testsuites><testsuite name="s" tests="2"><testcase name="a" classname="c"/></testsuite></testsuites>`,
			`testsuite "s" says tests=2 but holds 1`},
		{"suite failures wrong", `<testsuites><testsuite name="s" tests="1" failures="0"><testcase name="a" classname="c"><failure message="x"/></testcase></testsuite></testsuites>`,
			`testsuite "s" says failures=0 but holds 1`},
		{"total wrong", `<testsuites tests="3"><testsuite name="s" tests="1"><testcase name="a" classname="c"/></testsuite></testsuites>`,
			"testsuites says tests=3 but holds 1"},
		{"count not a number", `<testsuites><testsuite name="s" tests="1.0"><testcase name="a" classname="c"/></testsuite></testsuites>`,
			`tests="1.0" is not a whole number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(head + tc.doc))
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}
