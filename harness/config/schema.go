package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// CheckTask types a task's `dataset:` and `options:` against the fields its plugin declares (unknown keys, wrong
// types, missing required keys, missing files, values outside the choices or the bounds) and returns them as the
// JSON objects the plugin's Load takes, with path fields made absolute against the config's folder. The error is
// Problems, sorted by position. A task without `dataset:` (which Load reports) has only its options checked.
func (c *Config) CheckTask(t Task, info *sdk.PluginInfo) (dataset, options json.RawMessage, err error) {
	datasetFields, optionFields := info.DatasetFields, info.OptionFields
	p := &parser{file: c.Path}
	if t.Dataset != nil {
		dataset = p.typed(t.Dataset, fmt.Sprintf("task %q dataset", t.Name), datasetFields, c.Dir, t.Pos)
	}
	options = p.typed(t.Options, fmt.Sprintf("task %q options", t.Name), optionFields, c.Dir, t.Pos)
	if len(p.problems) > 0 {
		return nil, nil, p.problems.Sorted()
	}
	return dataset, options, nil
}

// typed converts a mapping node to JSON following fields. A nil node is an empty mapping.
func (p *parser) typed(n *yaml.Node, what string, fields []sdk.Field, base string, at Pos) json.RawMessage {
	out := map[string]any{}
	present := map[string]bool{}
	byName := map[string]sdk.Field{}
	names := make([]string, len(fields))
	for i, f := range fields {
		byName[f.Name] = f
		names[i] = f.Name
	}
	if n != nil && n.Kind != yaml.MappingNode && n.Tag != "!!null" {
		p.errorf(n, "%s must be a mapping, is %s", what, kindName(n))
		return nil
	}
	if n != nil {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := byName[k.Value]
			if !ok {
				p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(names, ", "))
				continue
			}
			if present[k.Value] {
				continue // reported by Load (duplicateKeys); the first one counts
			}
			present[k.Value] = true
			if val, ok := p.value(v, f, base); ok {
				out[k.Value] = val
			}
		}
	}
	for _, f := range fields {
		if !present[f.Name] && f.Required {
			pos := at
			if n != nil {
				pos = p.pos(n)
			}
			p.problems = append(p.problems, Problem{pos, fmt.Sprintf("%s: missing %s (%s)", what, f.Name, f.Help)})
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
	}
	return b
}

// value converts one node to the JSON value of a field's type.
func (p *parser) value(n *yaml.Node, f sdk.Field, base string) (any, bool) {
	bad := func() (any, bool) {
		p.errorf(n, "%s must be %s, is %s", f.Name, typeName(f.Type), kindName(n))
		return nil, false
	}
	scalar := n.Kind == yaml.ScalarNode && n.Tag != "!!null"
	switch f.Type {
	case sdk.FieldString, sdk.FieldPath:
		if !scalar || n.Value == "" {
			return bad()
		}
		if len(f.Choices) > 0 && !contains(f.Choices, n.Value) {
			p.errorf(n, "%s %q: want one of %s", f.Name, n.Value, strings.Join(f.Choices, ", "))
			return nil, false
		}
		if f.Type == sdk.FieldPath {
			return p.existing(n, base, n.Value, false)
		}
		return n.Value, true
	case sdk.FieldInt:
		if !scalar || n.Tag != "!!int" {
			return bad()
		}
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return bad()
		}
		return v, p.inRange(n, f, float64(v))
	case sdk.FieldFloat:
		if !scalar || (n.Tag != "!!int" && n.Tag != "!!float") {
			return bad()
		}
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return bad()
		}
		return v, p.inRange(n, f, v)
	case sdk.FieldBool:
		if !scalar || n.Tag != "!!bool" {
			return bad()
		}
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
	case sdk.FieldStringList:
		if n.Kind != yaml.SequenceNode {
			return bad()
		}
		list := make([]string, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				p.errorf(e, "%s: each entry must be a string, is %s", f.Name, kindName(e))
				return nil, false
			}
			list = append(list, e.Value)
		}
		return list, true
	case sdk.FieldStringMap:
		if n.Kind != yaml.MappingNode {
			return bad()
		}
		m := p.scalarMap(n, f.Name)
		return m, m != nil
	}
	p.errorf(n, "%s has type %q, which this clipeval does not know (plugin built for a newer contract?)", f.Name, f.Type)
	return nil, false
}

// inRange checks a number against the field's bounds.
func (p *parser) inRange(n *yaml.Node, f sdk.Field, v float64) bool {
	switch {
	case f.Min != nil && f.Max != nil && (v < *f.Min || v > *f.Max):
		p.errorf(n, "%s must be between %s and %s, is %s", f.Name, number(*f.Min), number(*f.Max), n.Value)
	case f.Min != nil && v < *f.Min:
		p.errorf(n, "%s must be at least %s, is %s", f.Name, number(*f.Min), n.Value)
	case f.Max != nil && v > *f.Max:
		p.errorf(n, "%s must be at most %s, is %s", f.Name, number(*f.Max), n.Value)
	default:
		return true
	}
	return false
}

// number formats a bound as briefly as it round-trips.
func number(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func typeName(t sdk.FieldType) string {
	switch t {
	case sdk.FieldString:
		return "a string"
	case sdk.FieldPath:
		return "a path"
	case sdk.FieldInt:
		return "an integer"
	case sdk.FieldFloat:
		return "a number"
	case sdk.FieldBool:
		return "true or false"
	case sdk.FieldStringList:
		return "a list of strings"
	case sdk.FieldStringMap:
		return "a mapping of strings"
	}
	return string(t)
}
