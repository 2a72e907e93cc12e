// Package junit writes test results in the JUnit XML layout that CI systems read (GitHub Actions reporters,
// GitLab, Jenkins): <testsuites> holding <testsuite>s holding <testcase>s, each with an optional <failure> or
// <skipped>, and tests/failures/errors/skipped counts on the suites (internal/junittest checks a file against that common
// schema).
package junit

import (
	"encoding/xml"
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk/atomicfile"
)

// Status is the outcome of one check, as a JUnit test case has it: the one outcome type of the regression gate
// (harness/compare), the conformance suite (harness/conformance) and export verification.
type Status string

// Outcomes of a check.
const (
	// Pass: the check held.
	Pass Status = "PASS"
	// Fail: it did not; the check's message says why.
	Fail Status = "FAIL"
	// Skip: it could not run or there was nothing to check; the message says why.
	Skip Status = "SKIP"
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

// WriteFile writes the report to path, atomically (a symbolic link at path is replaced, not followed).
func (s *Suites) WriteFile(path string) error {
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("writing JUnit XML: %w (check that the folder exists and is writable)", err)
	}
	return nil
}
