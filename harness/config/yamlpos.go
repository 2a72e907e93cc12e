package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The YAML library reports a syntax error as "yaml: line N: problem", where N is the line of the enclosing block
// for parser errors (and is 0-based there, so one less), the problem's line for scanner errors, and is missing on
// the first line; it never gives a column. syntaxProblem finds the real place itself: the problem is where the
// shortest prefix of the file that fails with the same message, and every longer one, starts failing. A prefix
// cut inside a quoted string or a flow collection fails too, but a later, longer prefix then parses again, so those
// cuts do not count. A few kinds of problems are then moved to the token the reader should look at.

// maxLocate is the largest config (bytes) whose syntax errors are located by probing prefixes; larger files report
// the library's line.
const maxLocate = 1 << 20

var yamlMsgRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// decodeProblem decodes the first document of b and returns its error message without the "yaml: line N: "
// prefix; "" when b parses (or is empty).
func decodeProblem(b []byte) (msg string) {
	defer func() {
		if r := recover(); r != nil { // the library panicking on some prefix must not take Load down
			msg = fmt.Sprint("panic: ", r)
		}
	}()
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc)
	if err == nil || errors.Is(err, io.EOF) {
		return ""
	}
	if m := yamlMsgRE.FindStringSubmatch(err.Error()); m != nil {
		return m[2]
	}
	return err.Error()
}

// syntaxProblem turns the library's error for raw into a problem at the offending token.
func syntaxProblem(file string, raw []byte, err error) Problem {
	msg := err.Error()
	line := 1
	if m := yamlMsgRE.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		if m[1] != "" {
			fmt.Sscan(m[1], &line)
		}
	}
	if len(raw) > maxLocate || decodeProblem(raw) != msg {
		return Problem{Pos{file, line, 1}, "invalid YAML: " + msg}
	}
	off := revealed(raw, msg)
	hint := ""
	switch {
	case strings.HasPrefix(msg, "did not find expected ',' or ']'"):
		off, hint = openBracket(raw, off, '[', off), " (the [ here is not closed)"
	case strings.HasPrefix(msg, "did not find expected ',' or '}'"):
		off, hint = openBracket(raw, off, '{', off), " (the { here is not closed)"
	case msg == "found unexpected end of stream" && (raw[off] == '"' || raw[off] == '\''):
		hint = " (the quoted string that starts here is not closed)"
	case msg == "found character that cannot start any token" && raw[off] == '\t':
		hint = " (a tab: YAML indents with spaces only)"
	case msg == "found character that cannot start any token" && (raw[off] == '@' || raw[off] == '`'):
		hint = " (@ and ` cannot start a plain value: quote it)"
	case strings.HasPrefix(msg, "unknown anchor '"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		if start := off + 1 - len(name) - 1; start >= 0 && string(raw[start:off+1]) == "*"+name {
			off = start
		}
	case msg == "did not find expected key", msg == "did not find expected '-' indicator", msg == "could not find expected ':'":
		if off = tokenAt(raw, off); off == lineStart(raw, off) {
			hint = " (check the indentation of this line and the one before)"
		}
	case msg == "mapping values are not allowed in this context":
		hint = ` (quote a value that holds ": ", or fix the indentation)`
	case strings.Contains(msg, "directive"):
		off = lineStart(raw, off)
	}
	return Problem{position(file, raw, off), "invalid YAML: " + msg + hint}
}

// revealed returns the offset of the last byte of the shortest prefix of raw from which every longer prefix fails
// with msg (raw itself does). Whole lines are tried first, from the end, then the bytes of the line that reveals
// the problem.
func revealed(raw []byte, msg string) int {
	var ends []int // prefix lengths ending at a line break, then len(raw)
	for i, c := range raw {
		if c == '\n' && i+1 < len(raw) {
			ends = append(ends, i+1)
		}
	}
	ends = append(ends, len(raw))
	lo, hi := 0, ends[0]
	for i := len(ends) - 2; i >= 0; i-- {
		if decodeProblem(raw[:ends[i]]) != msg {
			lo, hi = ends[i], ends[i+1]
			break
		}
	}
	n := hi
	for k := hi - 1; k > lo; k-- {
		if decodeProblem(raw[:k]) != msg {
			break
		}
		n = k
	}
	// Back up to the start of a UTF-8 character.
	off := n - 1
	for off > 0 && !utf8.RuneStart(raw[off]) {
		off--
	}
	return off
}

// openBracket returns the offset of the innermost flow collection opened with open ('[' or '{') and still open at
// off, skipping quoted strings, comments and brackets inside plain scalars; fallback when there is none.
func openBracket(raw []byte, off int, open byte, fallback int) int {
	var stack []int
	tokenStart := true // at a place where a token may start (after indentation, an indicator or a space)
	for i := 0; i < off && i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\n' || c == ' ' || c == '\t':
			tokenStart = true
			continue
		case c == '#' && tokenStart:
			for i < off && raw[i] != '\n' {
				i++
			}
			tokenStart = true
			continue
		case (c == '"' || c == '\'') && tokenStart:
			i = closingQuote(raw, i)
		case (c == '[' || c == '{') && (tokenStart || len(stack) > 0):
			stack = append(stack, i)
			tokenStart = true
			continue
		case (c == ']' || c == '}') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case c == ',' && len(stack) > 0:
			tokenStart = true
			continue
		}
		tokenStart = false
	}
	for j := len(stack) - 1; j >= 0; j-- {
		if raw[stack[j]] == open {
			return stack[j]
		}
	}
	return fallback
}

// closingQuote returns the offset of the quote that closes the quoted scalar opening at raw[i] (len(raw)-1 when
// it is not closed): backslash escapes inside "...", and two single quotes for one inside '...'.
func closingQuote(raw []byte, i int) int {
	q := raw[i]
	for j := i + 1; j < len(raw); j++ {
		switch {
		case q == '"' && raw[j] == '\\':
			j++
		case raw[j] == q && q == '\'' && j+1 < len(raw) && raw[j+1] == '\'':
			j++
		case raw[j] == q:
			return j
		}
	}
	return len(raw) - 1
}

// tokenAt moves a problem revealed at off to the start of the token the reader should look at: the key whose ':'
// revealed it (the first token of the line, after any "- " or "? " indicators), the opening quote of a quoted
// scalar that ends at off, the start of a plain scalar; an indicator stays where it is.
func tokenAt(raw []byte, off int) int {
	start := lineStart(raw, off)
	switch c := raw[off]; {
	case c == ':':
		i := start
		for i+1 < off && (raw[i] == '-' || raw[i] == '?') && raw[i+1] == ' ' {
			i = lineStartFrom(raw, i+2, off)
		}
		return i
	case c == '"' || c == '\'':
		for j := off - 1; j >= start; j-- {
			switch {
			case c == '"' && raw[j] == '"' && (j == 0 || raw[j-1] != '\\'):
				return j
			case c == '\'' && raw[j] == '\'' && j > start && raw[j-1] == '\'':
				j-- // two single quotes are one quote inside the scalar
			case c == '\'' && raw[j] == '\'':
				return j
			}
		}
		return off
	case strings.IndexByte(",[]{}-?#&*!|>%@`", c) >= 0:
		return off
	}
	for off > start && strings.IndexByte(" \t,[]{}", raw[off-1]) < 0 {
		off--
	}
	return off
}

// lineStart returns the offset of the first character of the line holding off that is not a space.
func lineStart(raw []byte, off int) int {
	return lineStartFrom(raw, bytes.LastIndexByte(raw[:off], '\n')+1, off)
}

// lineStartFrom skips spaces from i, up to off.
func lineStartFrom(raw []byte, i, off int) int {
	for i < off && raw[i] == ' ' {
		i++
	}
	return i
}

// position converts a byte offset into a 1-based line and column (in characters, as the YAML library counts).
func position(file string, raw []byte, off int) Pos {
	line := 1 + bytes.Count(raw[:off], []byte{'\n'})
	start := bytes.LastIndexByte(raw[:off], '\n') + 1
	return Pos{file, line, 1 + utf8.RuneCount(raw[start:off])}
}

// duplicateKeys reports every key that appears twice in one mapping (the YAML library keeps both silently), in the
// order of the file; the first one counts.
func (p *parser) duplicateKeys(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			p.duplicateKeys(c)
		}
		return
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if f, dup := first[k.Value]; dup && k.Kind == yaml.ScalarNode {
			p.errorf(k, "key %q appears twice in this mapping (first at line %d, column %d); keep one", k.Value, f.Line, f.Column)
		} else if k.Kind == yaml.ScalarNode {
			first[k.Value] = k
		}
		p.duplicateKeys(k)
		p.duplicateKeys(n.Content[i+1])
	}
}
