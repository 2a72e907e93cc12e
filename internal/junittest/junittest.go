// Package junittest checks, for tests, that a document is JUnit XML of the common schema the harness/junit
// package writes and CI systems read (GitHub Actions reporters, GitLab, Jenkins).
package junittest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Validate checks that data is a JUnit XML document of the common schema: a <testsuites> root holding only
// <testsuite> elements (each with a name), holding <testcase> elements (each with a name and classname, plus the
// optional <properties>, <system-out> and <system-err>), each holding at most one of <failure>, <error> (with a
// message) or <skipped>; and that every tests/failures/errors/skipped count, on the root and on each suite, equals
// the number of such elements below it. It reads the XML tokens itself rather than decoding into the junit package's types,
// so a mistake in the junit package's types does not hide a malformed file.
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
