package config

import (
	"fmt"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// CheckModel types a model's `options:` against the options its backend declares (unknown keys, wrong types,
// values out of range or outside the choices, missing files) and reports every problem at its place.
func (c *Config) CheckModel(m Model, info *sdk.PluginInfo) error {
	p := &parser{file: c.Path}
	p.typed(m.optionsNode, fmt.Sprintf("model %q options", m.Name), info.OptionFields, c.Dir, m.Pos)
	if len(p.problems) > 0 {
		return p.problems
	}
	return nil
}

// KeyPos returns where key is written in the model's entry: "path" (the model folder) or "options.NAME"; the
// model's own place for any other key or one not written.
func (m Model) KeyPos(key string) Pos {
	if p, ok := m.keys[key]; ok {
		return p
	}
	return m.Pos
}
