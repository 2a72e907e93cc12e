package tokenizer

//go:generate python3 gen_entities.py

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file reproduces the text cleaning open_clip applies before tokenizing (open_clip tokenizer.py):
//
//	basic_clean(text)      = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
//	whitespace_clean(text) = " ".join(text.split())
//	clean "whitespace"     = whitespace_clean(basic_clean(text))            (HFTokenizer default: BiomedCLIP)
//	clean "lower"          = whitespace_clean(basic_clean(text)).lower()    (SimpleTokenizer default: OpenAI CLIP)
//
// ftfy.fix_text is reproduced for ftfy 6.3 with its default TextFixerConfig, except fix_encoding (the mojibake
// detector and its sub-steps restore_byte_a0, replace_lossy_sequences and decode_inconsistent_utf8): text that
// ftfy's badness heuristic takes for mojibake (such as "CafÃ©") is left as it is here.

// cleanWhitespace is open_clip's "whitespace" clean function (used by HFTokenizer, hence BiomedCLIP).
func cleanWhitespace(text string) string {
	return whitespaceClean(basicClean(text))
}

// cleanLower is open_clip's "lower" clean function (used by SimpleTokenizer, hence OpenAI CLIP).
func cleanLower(text string) string {
	return pyLower(whitespaceClean(basicClean(text)))
}

// basicClean is open_clip's basic_clean: ftfy.fix_text, html.unescape twice, str.strip.
func basicClean(text string) string {
	text = fixText(validUTF8(text))
	text = pyHTMLUnescape(pyHTMLUnescape(text))
	return strings.TrimFunc(text, pyIsSpace)
}

// whitespaceClean is open_clip's whitespace_clean: " ".join(text.split()), i.e. runs of Python whitespace become
// one space and the ends are stripped.
func whitespaceClean(text string) string {
	return strings.Join(strings.FieldsFunc(text, pyIsSpace), " ")
}

// pyIsSpace reports whether Python's str.isspace holds for r (bidirectional class WS, B or S, or category Zs):
// Go's White_Space set plus the information separators U+001C..U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// fixText is ftfy.fix_text with the default configuration, without fix_encoding (see the file comment). The text
// is fixed line by line (segments end after '\n'); once a line holds '<', HTML entities are left alone in it and in
// every later line, as ftfy's unescape_html="auto" does.
func fixText(text string) string {
	var b strings.Builder
	unescape := true
	for text != "" {
		end := strings.IndexByte(text, '\n') + 1
		if end == 0 {
			end = len(text)
		}
		segment := text[:end]
		text = text[end:]
		if strings.Contains(segment, "<") {
			unescape = false
		}
		b.WriteString(fixSegment(segment, unescape))
	}
	return b.String()
}

// fixSegment is ftfy.fix_and_explain for one segment: the fixers in ftfy's order, then NFC, repeated until the
// text no longer changes.
func fixSegment(text string, unescape bool) string {
	for {
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixC1Controls(text)
		text = fixLatinLigatures(text)
		text = fixCharacterWidth(text)
		text = uncurlQuotes(text)
		text = fixLineBreaks(text)
		text = removeTerminalEscapes(text)
		text = removeControlChars(text)
		text = norm.NFC.String(text)
		if text == orig {
			return text
		}
	}
}

// mapRunes applies f to every rune of s; f returns the replacement and whether r is replaced ("" deletes it).
func mapRunes(s string, f func(r rune) (string, bool)) string {
	changed := false
	for _, r := range s {
		if _, ok := f(r); ok {
			changed = true
			break
		}
	}
	if !changed {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if rep, ok := f(r); ok {
			b.WriteString(rep)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// validUTF8 returns s with every byte that is not part of valid UTF-8 replaced by U+FFFD (what ranging over s
// yields), so that every step sees the same text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

// cp1252C1 is Windows-1252 for the bytes 0x80..0x9F, the five bytes it leaves undefined decoding to themselves (the
// "sloppy-windows-1252" of ftfy, and Python's html._invalid_charrefs for these numbers).
const cp1252C1 = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ"

// cp1252 returns the Windows-1252 character of the C1 control r (U+0080..U+009F).
func cp1252(r rune) rune {
	i := r - 0x80
	for _, c := range cp1252C1 {
		if i == 0 {
			return c
		}
		i--
	}
	return r
}

// fixC1Controls is ftfy's fix_c1_controls: C1 control characters U+0080..U+009F become the Windows-1252 character
// of the same byte.
func fixC1Controls(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r >= 0x80 && r <= 0x9f {
			return string(cp1252(r)), true
		}
		return "", false
	})
}

// fixLatinLigatures is ftfy's fix_latin_ligatures: Latin ligatures and legacy digraphs become their letters.
func fixLatinLigatures(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch r {
		case 'Ĳ':
			return "IJ", true
		case 'ĳ':
			return "ij", true
		case 'ŉ':
			return "ʼn", true
		case 'Ǳ':
			return "DZ", true
		case 'ǲ':
			return "Dz", true
		case 'ǳ':
			return "dz", true
		case 'Ǆ':
			return "DŽ", true
		case 'ǅ':
			return "Dž", true
		case 'ǆ':
			return "dž", true
		case 'Ǉ':
			return "LJ", true
		case 'ǈ':
			return "Lj", true
		case 'ǉ':
			return "lj", true
		case 'Ǌ':
			return "NJ", true
		case 'ǋ':
			return "Nj", true
		case 'ǌ':
			return "nj", true
		case 'ﬀ':
			return "ff", true
		case 'ﬁ':
			return "fi", true
		case 'ﬂ':
			return "fl", true
		case 'ﬃ':
			return "ffi", true
		case 'ﬄ':
			return "ffl", true
		case 'ﬅ':
			return "ſt", true
		case 'ﬆ':
			return "st", true
		}
		return "", false
	})
}

// fixCharacterWidth is ftfy's fix_character_width: U+3000 IDEOGRAPHIC SPACE becomes a space and the halfwidth and
// fullwidth forms U+FF01..U+FFEF become their NFKC form.
func fixCharacterWidth(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r == 0x3000 {
			return " ", true
		}
		if r >= 0xff01 && r < 0xfff0 {
			if alt := norm.NFKC.String(string(r)); alt != string(r) {
				return alt, true
			}
		}
		return "", false
	})
}

// uncurlQuotes is ftfy's uncurl_quotes: U+02BC and U+2018..U+201B become ', U+201C..U+201F become ".
func uncurlQuotes(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch {
		case r == 0x2bc || (r >= 0x2018 && r <= 0x201b):
			return "'", true
		case r >= 0x201c && r <= 0x201f:
			return `"`, true
		}
		return "", false
	})
}

// fixLineBreaks is ftfy's fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become LF.
func fixLineBreaks(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return mapRunes(s, func(r rune) (string, bool) {
		switch r {
		case '\r', 0x2028, 0x2029, 0x85:
			return "\n", true
		}
		return "", false
	})
}

// removeTerminalEscapes is ftfy's remove_terminal_escapes: ANSI sequences ESC '[' (digits or ';')* letter are
// removed. The digits are Python's \d, every decimal digit (Nd); the final letter is ASCII.
func removeTerminalEscapes(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 2
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if r != ';' && !unicode.IsDigit(r) {
				break
			}
			j += size
		}
		if j < len(s) && isASCIILetter(s[j]) {
			b.WriteString(s[:i])
			s = s[j+1:]
			continue
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
	}
}

func isASCIILetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// removeControlChars is ftfy's remove_control_chars: U+0000..U+0008, U+000B, U+000E..U+001F, U+007F,
// U+206A..U+206F, U+FEFF and U+FFF9..U+FFFC are deleted.
func removeControlChars(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r <= 8 || r == 0x0b || (r >= 0x0e && r <= 0x1f) || r == 0x7f || (r >= 0x206a && r <= 0x206f) ||
			r == 0xfeff || (r >= 0xfff9 && r <= 0xfffc) {
			return "", true
		}
		return "", false
	})
}

// ftfyUnescapeHTML is ftfy's unescape_html: every match of &#?[0-9A-Za-z]{1,24}; that is an HTML5 entity ending in
// ';' (or, for an all-lowercase entity, its all-uppercase spelling when that is no entity prefix, such as &EACUTE;)
// or a complete numeric reference is decoded; anything else is left as it is.
func ftfyUnescapeHTML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		n := ftfyEntityLen(s)
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteString(ftfyEntity(s[:n]))
		s = s[n:]
	}
}

// ftfyEntityLen returns the length of the match of &#?[0-9A-Za-z]{1,24}; at the start of s, or 0.
func ftfyEntityLen(s string) int {
	for _, start := range []int{1, 2} {
		if start == 2 && (len(s) < 2 || s[1] != '#') {
			break
		}
		j := start
		for j < len(s) && j-start < 24 && isASCIIAlnum(s[j]) {
			j++
		}
		if j > start && j < len(s) && s[j] == ';' {
			return j + 1
		}
	}
	return 0
}

func isASCIIAlnum(c byte) bool {
	return isASCIILetter(c) || (c >= '0' && c <= '9')
}

// ftfyEntity decodes one entity matched by ftfyEntityLen (ftfy's _unescape_fixup).
func ftfyEntity(text string) string {
	name := text[1:]
	if v, ok := htmlEntity(name); ok {
		return v
	}
	if lower := strings.ToLower(name); lower != name && strings.ToUpper(name) == name {
		if v, ok := htmlEntity(lower); ok && pyHTMLUnescape(text) == text {
			return entityUpper(v)
		}
	}
	if strings.HasPrefix(text, "&#") {
		if u := pyHTMLUnescape(text); !strings.Contains(u, ";") {
			return u
		}
	}
	return text
}

// entityUpper is Python's str.upper for the values of HTML5 entities: Go's simple mapping plus the unconditional
// SpecialCasing entries such values reach (ß, ŉ and the ﬀ..ﬆ ligatures).
func entityUpper(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch r {
		case 'ß':
			return "SS", true
		case 'ŉ':
			return "ʼN", true
		case 'ﬀ':
			return "FF", true
		case 'ﬁ':
			return "FI", true
		case 'ﬂ':
			return "FL", true
		case 'ﬃ':
			return "FFI", true
		case 'ﬄ':
			return "FFL", true
		case 'ﬅ', 'ﬆ':
			return "ST", true
		}
		if u := unicode.ToUpper(r); u != r {
			return string(u), true
		}
		return "", false
	})
}

// pyHTMLUnescape is Python's html.unescape: numeric character references (decimal or hex, ';' optional) and named
// references (up to 32 characters, ';' optional, else the longest known prefix) are decoded as HTML5 does.
func pyHTMLUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		rep, n := charRef(s)
		if n == 0 {
			b.WriteByte('&')
			continue
		}
		b.WriteString(rep)
		s = s[n:]
	}
}

// charRef decodes the character reference at the start of s (just after '&') as Python's html._replace_charref
// does, returning its text and the number of bytes it spans (0: no reference).
func charRef(s string) (string, int) {
	if strings.HasPrefix(s, "#") {
		return numericCharRef(s)
	}
	// [^\t\n\f <&#;]{1,32};?
	n, count := 0, 0
	for n < len(s) && count < 32 {
		r, size := utf8.DecodeRuneInString(s[n:])
		if strings.ContainsRune("\t\n\f <&#;", r) {
			break
		}
		n += size
		count++
	}
	if n == 0 {
		return "", 0
	}
	if n < len(s) && s[n] == ';' {
		n++
	}
	name := s[:n]
	if v, ok := htmlEntity(name); ok {
		return v, n
	}
	// The longest prefix of at least two characters that is an entity (only the legacy ones without ';' can be).
	runes := []rune(name)
	for x := len(runes) - 1; x > 1; x-- {
		prefix := string(runes[:x])
		if v, ok := htmlEntity(prefix); ok {
			return v + name[len(prefix):], n
		}
	}
	return "&" + name, n
}

// numericCharRef decodes #[0-9]+;? or #[xX][0-9a-fA-F]+;? at the start of s.
func numericCharRef(s string) (string, int) {
	base, start := 10, 1
	if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
		base, start = 16, 2
	}
	end := start
	for end < len(s) && isDigitOfBase(s[end], base) {
		end++
	}
	if end == start {
		return "", 0
	}
	num, err := strconv.ParseUint(s[start:end], base, 32)
	if err != nil || num > unicode.MaxRune {
		num = unicode.MaxRune + 1 // too large: U+FFFD below
	}
	if end < len(s) && s[end] == ';' {
		end++
	}
	return numericCharRefText(rune(num)), end
}

func isDigitOfBase(c byte, base int) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
}

// numericCharRefText is the text of the character reference numbered r (Python's _invalid_charrefs, surrogates and
// out-of-range numbers, _invalid_codepoints).
func numericCharRefText(r rune) string {
	switch {
	case r == 0:
		return "\uFFFD"
	case r == 0x0d:
		return "\r"
	case r >= 0x80 && r <= 0x9f:
		return string(cp1252(r))
	case (r >= 0xd800 && r <= 0xdfff) || r > unicode.MaxRune:
		return "\uFFFD"
	case (r >= 1 && r <= 8) || r == 0x0b || (r >= 0x0e && r <= 0x1f) || r == 0x7f ||
		(r >= 0xfdd0 && r <= 0xfdef) || r&0xfffe == 0xfffe:
		return ""
	}
	return string(r)
}

// pyLower is Python's str.lower: the full lowercase mapping (U+0130 becomes "i̇") with the Final_Sigma rule for
// U+03A3 (ς at the end of a word, σ elsewhere).
func pyLower(s string) string {
	runes := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range runes {
		switch {
		case r < utf8.RuneSelf:
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 0x130:
			b.WriteString("i\u0307")
		case r == 0x3a3 && finalSigma(runes, i):
			b.WriteRune(0x3c2)
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether runes[i] is in the Final_Sigma context: a cased letter before it and none after it,
// skipping case-ignorable characters (Python's handle_capital_sigma).
func finalSigma(runes []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(runes[j]) {
		j--
	}
	if j < 0 || !cased(runes[j]) {
		return false
	}
	j = i + 1
	for j < len(runes) && caseIgnorable(runes[j]) {
		j++
	}
	return j == len(runes) || !cased(runes[j])
}

// cased is the Unicode Cased property: Lowercase, Uppercase or Lt.
func cased(r rune) bool {
	return unicode.In(r, unicode.Ll, unicode.Lu, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// caseIgnorable is the Unicode Case_Ignorable property: Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter, MidNumLet or
// Single_Quote (listed here as of Unicode 15).
func caseIgnorable(r rune) bool {
	switch r {
	case 0x27, 0x2e, 0x3a, 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07,
		0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
