package junittest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

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
