package conformance

import (
	"fmt"
	"math"
	"slices"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// fieldTypes returns the field types the contract knows (clipeval.proto, Field.type).
func fieldTypes() []sdk.FieldType {
	return []sdk.FieldType{sdk.FieldString, sdk.FieldInt, sdk.FieldFloat, sdk.FieldBool, sdk.FieldStringList,
		sdk.FieldStringMap, sdk.FieldPath}
}

// infoProblems lists what is wrong with a Describe answer's name, version and protocol version.
func infoProblems(info *sdk.PluginInfo) []string {
	var probs []string
	if info.Name == "" {
		probs = append(probs, "name is empty")
	}
	if info.Version == "" {
		probs = append(probs, "version is empty (results.json records it)")
	}
	if info.ProtocolVersion != sdk.ProtocolVersion {
		probs = append(probs, fmt.Sprintf("protocol_version is %d, want %d", info.ProtocolVersion, sdk.ProtocolVersion))
	}
	return probs
}

// fieldProblems lists what is wrong with the fields of one list (option_fields or dataset_fields): an empty or
// repeated name, an unknown type, choices on a field that is not a string, bounds on a field that is not a number,
// a minimum above the maximum.
func fieldProblems(list string, fields []sdk.Field) []string {
	var probs []string
	seen := map[string]bool{}
	for i, f := range fields {
		at := fmt.Sprintf("%s[%d] %q", list, i, f.Name)
		if f.Name == "" {
			probs = append(probs, fmt.Sprintf("%s: no name", at))
		} else if seen[f.Name] {
			probs = append(probs, fmt.Sprintf("%s: declared twice", at))
		}
		seen[f.Name] = true
		if !slices.Contains(fieldTypes(), f.Type) {
			probs = append(probs, fmt.Sprintf("%s: unknown type %q (want one of %v)", at, f.Type, fieldTypes()))
		}
		if len(f.Choices) > 0 && f.Type != sdk.FieldString {
			probs = append(probs, fmt.Sprintf("%s: choices on a %s field (only string fields have choices)", at, f.Type))
		}
		number := f.Type == sdk.FieldInt || f.Type == sdk.FieldFloat
		if (f.Min != nil || f.Max != nil) && !number {
			probs = append(probs, fmt.Sprintf("%s: min/max on a %s field (only int and float fields have bounds)", at, f.Type))
		}
		for _, b := range []*float64{f.Min, f.Max} {
			if b != nil && math.IsNaN(*b) {
				probs = append(probs, fmt.Sprintf("%s: a bound is NaN", at))
			}
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			probs = append(probs, fmt.Sprintf("%s: min %g > max %g", at, *f.Min, *f.Max))
		}
	}
	return probs
}
