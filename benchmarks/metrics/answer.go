package metrics

import (
	"strings"
	"unicode"
)

// NormalizeAnswer normalises a VQA answer for exact-match scoring the way the SQuAD evaluation script's
// normalize_answer does: lower case, delete punctuation (ASCII punctuation and symbols as Python's
// string.punctuation lists them, and Unicode punctuation), drop the articles a, an and the, and collapse runs of
// white space to one space with none at either end. "The X-ray." and "xray" both become "xray".
func NormalizeAnswer(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || (r < unicode.MaxASCII && unicode.IsSymbol(r)) {
			return -1
		}
		return r
	}, strings.ToLower(s))
	words := strings.Fields(s)
	kept := words[:0]
	for _, w := range words {
		if w != "a" && w != "an" && w != "the" {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}

// AnswersMatch reports whether two answers are equal after NormalizeAnswer (normalised exact match, DESIGN.md
// "VQA zero-shot").
func AnswersMatch(a, b string) bool { return NormalizeAnswer(a) == NormalizeAnswer(b) }
