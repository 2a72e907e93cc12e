// Package junit writes test results in the JUnit XML layout that CI systems read (GitHub Actions reporters,
// GitLab, Jenkins): <testsuites> holding <testsuite>s holding <testcase>s, each with an optional <failure> or
// <skipped>, and tests/failures/errors/skipped counts on the suites. Validate checks a file against that common
// schema.
package junit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
)

// Suites is the root <testsuites> element. Build it with New and Add, which keep the counts consistent.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr,omitempty"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []*Suite `xml:"testsuite"`
}

// Suite is one <testsuite>.
type Suite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Cases    []Case `xml:"testcase"`
}

// Case is one <testcase>: it passed unless Failure or Skipped is set.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
	Failure   *Failure `xml:"failure,omitempty"`
	// SystemOut is shown by most viewers beside the case (e.g. the measured values of a passing case).
	SystemOut string `xml:"system-out,omitempty"`
}

// Failure is a <failure>: Message is the one-line reason, Text the details.
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Skipped is a <skipped> with its reason.
type Skipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// New returns an empty report called name.
func New(name string) *Suites { return &Suites{Name: name} }

// Add appends c to the suite called suite (created at the end when new) and updates the counts.
func (s *Suites) Add(suite string, c Case) {
	var dst *Suite
	for _, x := range s.Suites {
		if x.Name == suite {
			dst = x
		}
	}
	if dst == nil {
		dst = &Suite{Name: suite}
		s.Suites = append(s.Suites, dst)
	}
	dst.Cases = append(dst.Cases, c)
	dst.Tests++
	s.Tests++
	switch {
	case c.Failure != nil:
		dst.Failures++
		s.Failures++
	case c.Skipped != nil:
		dst.Skipped++
		s.Skipped++
	}
}

// Marshal returns the report as an indented XML document.
func (s *Suites) Marshal() ([]byte, error) {
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding JUnit XML: %w", err)
	}
	return append(append([]byte(xml.Header), b...), '\n'), nil
}

// WriteFile writes the report to path.
func (s *Suites) WriteFile(path string) error {
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing JUnit XML: %w (check that the folder exists and is writable)", err)
	}
	return nil
}

// Validate checks that data is a JUnit XML document of the common schema: a <testsuites> root holding only
// <testsuite> elements (each with a name), holding <testcase> elements (each with a name and classname, plus the
// optional <properties>, <system-out> and <system-err>), each holding at most one of <failure>, <error> (with a
// message) or <skipped>; and that every tests/failures/errors/skipped count, on the root and on each suite, equals
// the number of such elements below it. It reads the XML tokens itself rather than decoding into the types above,
// so a mistake in those types does not hide a malformed file.
func Validate(data []byte) error {
	root, err := parseTree(data)
	if err != nil {
		return err
	}
	if root.name != "testsuites" {
		return fmt.Errorf("junit: root element is <%s>, want <testsuites>", root.name)
	}
	var total counts
	for _, suite := range root.children {
		if suite.name != "testsuite" {
			return fmt.Errorf("junit: <testsuites> holds <%s>; only <testsuite> is allowed", suite.name)
		}
		if suite.attrs["name"] == "" {
			return fmt.Errorf("junit: a <testsuite> has no name")
		}
		var c counts
		for _, tc := range suite.children {
			switch tc.name {
			case "properties", "system-out", "system-err":
				continue
			case "testcase":
			default:
				return fmt.Errorf("junit: testsuite %q holds <%s>", suite.attrs["name"], tc.name)
			}
			if err := checkCase(tc, &c); err != nil {
				return fmt.Errorf("junit: testsuite %q: %w", suite.attrs["name"], err)
			}
		}
		if err := c.check(suite, fmt.Sprintf("testsuite %q", suite.attrs["name"]), true); err != nil {
			return err
		}
		total.add(c)
	}
	return total.check(root, "testsuites", false)
}

// checkCase checks one <testcase> and counts its outcome.
func checkCase(tc *node, c *counts) error {
	name := tc.attrs["name"]
	if name == "" || tc.attrs["classname"] == "" {
		return fmt.Errorf("a <testcase> lacks its name or classname (name %q)", name)
	}
	outcomes := 0
	c.tests++
	for _, ch := range tc.children {
		switch ch.name {
		case "failure":
			c.failures++
		case "error":
			c.errors++
		case "skipped":
			c.skipped++
		case "system-out", "system-err":
			continue
		default:
			return fmt.Errorf("testcase %q holds <%s>", name, ch.name)
		}
		if ch.name != "skipped" && ch.attrs["message"] == "" {
			return fmt.Errorf("testcase %q: <%s> has no message", name, ch.name)
		}
		outcomes++
	}
	if outcomes > 1 {
		return fmt.Errorf("testcase %q has %d outcomes (failure, error, skipped); at most one is allowed", name, outcomes)
	}
	return nil
}

// counts are the tests/failures/errors/skipped of a suite or of all suites.
type counts struct{ tests, failures, errors, skipped int }

func (c *counts) add(o counts) {
	c.tests += o.tests
	c.failures += o.failures
	c.errors += o.errors
	c.skipped += o.skipped
}

// check compares the counts with n's attributes; tests is required when requireTests is set, the others may be
// absent (then they must be 0).
func (c counts) check(n *node, what string, requireTests bool) error {
	for _, a := range []struct {
		name string
		want int
	}{{"tests", c.tests}, {"failures", c.failures}, {"errors", c.errors}, {"skipped", c.skipped}} {
		v, ok := n.attrs[a.name]
		if !ok {
			if a.name == "tests" && requireTests || a.want != 0 {
				return fmt.Errorf("junit: %s has no %s attribute (want %d)", what, a.name, a.want)
			}
			continue
		}
		var got int
		if _, err := fmt.Sscanf(v, "%d", &got); err != nil || fmt.Sprint(got) != v {
			return fmt.Errorf("junit: %s: %s=%q is not a whole number", what, a.name, v)
		}
		if got != a.want {
			return fmt.Errorf("junit: %s says %s=%d but holds %d", what, a.name, got, a.want)
		}
	}
	return nil
}

// node is an element of a parsed XML document.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
}

// parseTree reads data into a tree of elements (text is dropped).
func parseTree(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && root != nil && len(stack) == 0 {
				return root, nil
			}
			return nil, fmt.Errorf("junit: malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root != nil {
				return nil, fmt.Errorf("junit: more than one root element")
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}
