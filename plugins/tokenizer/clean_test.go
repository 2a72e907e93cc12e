package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Each ftfy fixer on its own, with expectations worked out from ftfy 6.3's source (fixes.py, chardata.py).
func TestFtfyFixers(t *testing.T) {
	for _, tc := range []struct {
		name string
		fix  func(string) string
		in   string
		want string
	}{
		{"c1 controls", fixC1Controls, "a\u0080b\u0081c\u0096", "a€b\u0081c–"},
		{"c1 controls untouched", fixC1Controls, "plain é", "plain é"},
		{"ligatures", fixLatinLigatures, "ﬁbrosis ﬂuid ﬃ ĳ ǆ ŉ ﬅ", "fibrosis fluid ffi ij dž ʼn ſt"},
		{"width", fixCharacterWidth, "Fullwidth ＣＴ\u3000ｓｃａｎ！ ｶ", "Fullwidth CT scan! カ"},
		{"width keeps ideographs", fixCharacterWidth, "胸部 ¥", "胸部 ¥"},
		{"quotes", uncurlQuotes, "“quotes” ‘a’ ʼ‚‛ „‟", `"quotes" 'a' ''' ""`},
		{"quotes keep primes", uncurlQuotes, "5′ 3″ «x»", "5′ 3″ «x»"},
		{"line breaks", fixLineBreaks, "a\r\nb\rc\u2028d\u2029e\u0085f\n", "a\nb\nc\nd\ne\nf\n"},
		{"terminal escapes", removeTerminalEscapes, "\x1b[36;44mblue\x1b[0m x\x1b[1;2Zy", "blue xy"},
		{"terminal escape digits are \\d", removeTerminalEscapes, "a\x1b[١٢mb", "ab"},
		{"incomplete terminal escape kept", removeTerminalEscapes, "a\x1b[;", "a\x1b[;"},
		{"control chars", removeControlChars, "a\x00b\x07c\td\ne\x0bf\ufeffg\u206ah\ufffci\x1bj\x0ck\rl\u200bm",
			"abc\td\nefghij\x0ck\rl\u200bm"},
		{"ftfy unescape", ftfyUnescapeHTML, "&amp; &lt;b&gt; &EACUTE; &SZLIG; &NTILDE; &nTILDE; &#x2019; &#65a; &amp x",
			"& <b> É SS Ñ &nTILDE; ’ &#65a; &amp x"},
		{"ftfy unescape needs ';'", ftfyUnescapeHTML, "&amp &lt &#65", "&amp &lt &#65"},
		{"ftfy unescape uppercase only when no entity prefix", ftfyUnescapeHTML, "&LTRI; &ltri;", "&LTRI; ◃"},
		{"python html.unescape", pyHTMLUnescape, "&amp &ampx &notit; &#128; &#0; &#x110000; &#1;x &lt",
			"& &x ¬it; € \ufffd \ufffd x <"},
		{"python html.unescape numeric", pyHTMLUnescape, "&#65 &#x41; &#X41 &#xZ &#; &# &&amp;", "A A A &#xZ &#; &# &&"},
		{"python html.unescape named", pyHTMLUnescape, "&nLt; &Eacute &eacuteX &unknown; &frac12;", "≪⃒ É éX &unknown; ½"},
		{"python html.unescape invalid numbers", pyHTMLUnescape, "&#55296; &#xFFFE; &#127;|", "\ufffd  |"},
		{"python lower", pyLower, "ALL CAPS Ménétrier", "all caps ménétrier"},
		{"python lower final sigma", pyLower, "ΟΔΥΣΣΕΥΣ ΣΑΣ. Σ AΣ'A", "οδυσσευς σας. σ aσ'a"},
		{"python lower dotted I", pyLower, "İSTANBUL", "i\u0307stanbul"},
		{"whitespace clean", whitespaceClean, "  a \t b\u00a0c\u2003d\x1ce\n", "a b c d e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.fix(tc.in))
		})
	}
}

func TestFixText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"curly quotes and dash", "Curly “quotes” and ‘apostrophes’ — with an em dash",
			`Curly "quotes" and 'apostrophes' — with an em dash`},
		{"entities repeat to a fixed point", "&amp;lt;b&amp;gt; &amp;amp;", "<b> &"},
		{"no entities once a line holds <", "x &amp; y\n<b> &amp;\nz &amp;", "x & y\n<b> &amp;\nz &amp;"},
		{"nfc", "Me\u0301ne\u0301trier", "Ménétrier"},
		{"halfwidth voiced mark composes", "ｶﾞ", "ガ"},
		{"crlf", "line1\r\nline2\r", "line1\nline2\n"},
		{"control and zero width", "control\x07char and zero\u200bwidth", "controlchar and zero\u200bwidth"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fixText(tc.in))
		})
	}
}

// open_clip's two clean functions, end to end.
func TestCleanFunctions(t *testing.T) {
	for _, tc := range []struct {
		name, in, whitespace, lower string
	}{
		{"runs of whitespace", "  Multiple   spaces\tand\ttabs\nand newlines  ",
			"Multiple spaces and tabs and newlines", "multiple spaces and tabs and newlines"},
		{"entities unescaped by ftfy and twice more", "HTML entities: &amp; &lt;b&gt; and &quot;quoted&quot;",
			`HTML entities: & <b> and "quoted"`, `html entities: & <b> and "quoted"`},
		{"ftfy leaves entities in HTML, html.unescape does not", "<i>&amp;amp;</i>", "<i>&</i>", "<i>&</i>"},
		{"ligatures and fullwidth", "Ligatures: ﬁbrosis ＣＴ\u3000ｓｃａｎ", "Ligatures: fibrosis CT scan",
			"ligatures: fibrosis ct scan"},
		{"unicode spaces", "a\u2003b\u00a0c\u3000", "a b c", "a b c"},
		{"nothing left", " \t\x07 ", "", ""},
		{"greek", "ΟΔΥΣΣΕΥΣ", "ΟΔΥΣΣΕΥΣ", "οδυσσευς"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.whitespace, cleanWhitespace(tc.in))
			assert.Equal(t, tc.lower, cleanLower(tc.in))
		})
	}
}

func TestPyIsSpace(t *testing.T) {
	for _, tc := range []struct {
		r    rune
		want bool
	}{
		{' ', true}, {'\t', true}, {'\v', true}, {0x1c, true}, {0x1f, true}, {0x85, true}, {0xa0, true},
		{0x2003, true}, {0x2028, true}, {0x3000, true},
		{0x200b, false}, {0x180e, false}, {0xfeff, false}, {'x', false}, {0x1b, false},
	} {
		assert.Equal(t, tc.want, pyIsSpace(tc.r), "U+%04X", tc.r)
	}
}

func TestInvalidUTF8BecomesReplacementCharacters(t *testing.T) {
	assert.Equal(t, "a\ufffd\ufffdb", validUTF8("a\xff\xfeb"))
	assert.Equal(t, "ok", validUTF8("ok"))
}
