package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// BERT is an uncased BERT WordPiece tokenizer behind open_clip's HFTokenizer, as BiomedCLIP uses it. It is safe for
// concurrent use.
type BERT struct {
	vocab    map[string]int64
	prefix   string // continuing-subword prefix, "##"
	maxChars int    // longer words become [UNK]
	unk      int64
	cls      int64
	sep      int64
	padID    int64
	specials []addedToken // matched in the raw text before normalization, longest first
	norm     bertNormalizer
	ctx      int
}

// addedToken is a token matched verbatim in the input (the special tokens), as the tokenizers library's added
// vocabulary does for tokens with normalized=false.
type addedToken struct {
	content string
	id      int64
}

// bertNormalizer holds the settings of the tokenizers library's BertNormalizer.
type bertNormalizer struct {
	cleanText    bool
	chineseChars bool
	stripAccents bool
	lowercase    bool
}

// tokenizerConfig is the part of tokenizer_config.json that shapes a BertTokenizer.
type tokenizerConfig struct {
	DoLowerCase          *bool           `json:"do_lower_case"`
	TokenizeChineseChars *bool           `json:"tokenize_chinese_chars"`
	StripAccents         *bool           `json:"strip_accents"`
	UnkToken             json.RawMessage `json:"unk_token"`
	SepToken             json.RawMessage `json:"sep_token"`
	PadToken             json.RawMessage `json:"pad_token"`
	ClsToken             json.RawMessage `json:"cls_token"`
	MaskToken            json.RawMessage `json:"mask_token"`
}

// hfTokenizerJSON is the part of a Hugging Face tokenizer.json this package reads (WordPiece and BPE models).
type hfTokenizerJSON struct {
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer   *hfNormalizer `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		Vocab                   map[string]int64 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
	} `json:"model"`
}

// hfNormalizer is a tokenizer.json normalizer; the fields are those of a BertNormalizer.
type hfNormalizer struct {
	Type               string `json:"type"`
	CleanText          *bool  `json:"clean_text"`
	HandleChineseChars *bool  `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          *bool  `json:"lowercase"`
}

// specialKeys returns the special tokens a BertTokenizer knows, in the order they are checked.
func specialKeys() [5]string { return [5]string{"unk", "sep", "pad", "cls", "mask"} }

// NewBERT loads the tokenizer of a Hugging Face BERT model folder: the vocabulary from vocab.txt, or from
// tokenizer.json's WordPiece model when there is no vocab.txt; the special tokens and casing from
// tokenizer_config.json; the normalizer settings and added tokens from tokenizer.json when present (as
// transformers v5 does, which builds BertTokenizer on tokenizer.json). contextLength is the row length (256 for
// BiomedCLIP).
func NewBERT(dir string, contextLength int) (*BERT, error) {
	if contextLength < 2 {
		return nil, fmt.Errorf("tokenizer: BERT context length %d is too short: [CLS] and [SEP] need 2", contextLength)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("tokenizer: opening BERT model folder: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("tokenizer: BERT model path %s is not a folder (give the folder holding vocab.txt or tokenizer.json)", dir)
	}
	t := &BERT{prefix: "##", maxChars: 100, ctx: contextLength,
		norm: bertNormalizer{cleanText: true, chineseChars: true, lowercase: true}}
	names := map[string]string{"unk": "[UNK]", "sep": "[SEP]", "pad": "[PAD]", "cls": "[CLS]", "mask": "[MASK]"}
	var stripAccents *bool
	if err := t.applyTokenizerConfig(filepath.Join(dir, "tokenizer_config.json"), names, &stripAccents); err != nil {
		return nil, err
	}
	jsonPath := filepath.Join(dir, "tokenizer.json")
	var tj hfTokenizerJSON
	haveJSON, err := readJSON(jsonPath, &tj)
	if err != nil {
		return nil, err
	}
	if haveJSON {
		if err := t.applyTokenizerJSON(&tj, jsonPath, names, &stripAccents); err != nil {
			return nil, err
		}
	}
	switch t.vocab, err = readVocabTxt(filepath.Join(dir, "vocab.txt")); {
	case err == nil:
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case !haveJSON:
		return nil, fmt.Errorf("tokenizer: BERT model folder %s has neither vocab.txt nor tokenizer.json", dir)
	case len(tj.Model.Vocab) == 0:
		return nil, fmt.Errorf("tokenizer: %s has no vocab.txt and %s holds no vocabulary", dir, jsonPath)
	default:
		t.vocab = tj.Model.Vocab
	}

	t.norm.stripAccents = t.norm.lowercase // BertNormalizer: strip_accents unset follows lowercase
	if stripAccents != nil {
		t.norm.stripAccents = *stripAccents
	}
	ids := map[string]*int64{"unk": &t.unk, "sep": &t.sep, "pad": &t.padID, "cls": &t.cls}
	for _, key := range specialKeys() {
		id, ok := t.vocab[names[key]]
		if dst := ids[key]; dst != nil {
			if !ok {
				return nil, fmt.Errorf("tokenizer: the %s token %q is not in the vocabulary of %s", key, names[key], dir)
			}
			*dst = id
		}
		if ok && !haveJSON { // transformers registers the special tokens as added tokens, matched verbatim
			t.specials = append(t.specials, addedToken{names[key], id})
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i].content) > len(t.specials[j].content) })
	return t, nil
}

// applyTokenizerConfig takes the casing options and special token names of a tokenizer_config.json, if any.
func (t *BERT) applyTokenizerConfig(path string, names map[string]string, stripAccents **bool) error {
	var cfg tokenizerConfig
	found, err := readJSON(path, &cfg)
	if err != nil || !found {
		return err
	}
	if cfg.DoLowerCase != nil {
		t.norm.lowercase = *cfg.DoLowerCase
	}
	if cfg.TokenizeChineseChars != nil {
		t.norm.chineseChars = *cfg.TokenizeChineseChars
	}
	*stripAccents = cfg.StripAccents
	raws := map[string]json.RawMessage{"unk": cfg.UnkToken, "sep": cfg.SepToken, "pad": cfg.PadToken,
		"cls": cfg.ClsToken, "mask": cfg.MaskToken}
	for _, key := range specialKeys() {
		name, err := specialTokenName(raws[key])
		if err != nil {
			return fmt.Errorf("tokenizer: %s: %s_token: %w", path, key, err)
		}
		if name != "" {
			names[key] = name
		}
	}
	return nil
}

// applyTokenizerJSON takes the normalizer settings, WordPiece parameters and added tokens of a tokenizer.json.
func (t *BERT) applyTokenizerJSON(tj *hfTokenizerJSON, path string, names map[string]string, stripAccents **bool) error {
	n := tj.Normalizer
	if n == nil || n.Type != "BertNormalizer" {
		found := "none"
		if n != nil {
			found = strconv.Quote(n.Type)
		}
		return fmt.Errorf("tokenizer: %s: only a BertNormalizer is supported for BERT models (found %s)", path, found)
	}
	for _, f := range []struct{ src, dst *bool }{
		{n.CleanText, &t.norm.cleanText}, {n.HandleChineseChars, &t.norm.chineseChars}, {n.Lowercase, &t.norm.lowercase},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	*stripAccents = n.StripAccents
	if p := tj.PreTokenizer; p == nil || p.Type != "BertPreTokenizer" {
		found := "none"
		if p != nil {
			found = strconv.Quote(p.Type)
		}
		return fmt.Errorf("tokenizer: %s: only a BertPreTokenizer is supported for BERT models (found %s)", path, found)
	}
	m := tj.Model
	if m.Type != "WordPiece" {
		return fmt.Errorf("tokenizer: %s: model type %q is not WordPiece", path, m.Type)
	}
	if m.UnkToken != nil {
		names["unk"] = *m.UnkToken
	}
	if m.ContinuingSubwordPrefix != nil {
		t.prefix = *m.ContinuingSubwordPrefix
	}
	if m.MaxInputCharsPerWord != nil {
		t.maxChars = *m.MaxInputCharsPerWord
	}
	for _, a := range tj.AddedTokens {
		if a.Normalized {
			return fmt.Errorf("tokenizer: %s: added token %q has normalized=true, which is not supported", path, a.Content)
		}
		t.specials = append(t.specials, addedToken{a.Content, a.ID})
	}
	return nil
}

// specialTokenName reads a special token of tokenizer_config.json: a string, an AddedToken object with "content",
// or absent/null ("").
func specialTokenName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == "" {
		return "", fmt.Errorf("want a string or an object with \"content\", got %s", raw)
	}
	return obj.Content, nil
}

// readJSON decodes path into v; a missing file is (false, nil).
func readJSON(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenizer: reading %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("tokenizer: parsing %s: %w", path, err)
	}
	return true, nil
}

// readVocabTxt reads a vocab.txt: one token per line, the id being the line number (a later duplicate wins, as in
// transformers' load_vocab). Line ends "\n" and "\r\n" are removed.
func readVocabTxt(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("tokenizer: reading %s: %w", path, err)
	}
	vocab := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	var id int64
	for sc.Scan() {
		vocab[strings.TrimSuffix(sc.Text(), "\r")] = id
		id++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: reading %s: %w", path, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: %s is empty: a BERT vocabulary needs one token per line", path)
	}
	return vocab, nil
}

// Name returns "bert-wordpiece".
func (t *BERT) Name() string { return "bert-wordpiece" }

// ContextLength returns the row length Encode produces.
func (t *BERT) ContextLength() int { return t.ctx }

// PadID returns the id of [PAD].
func (t *BERT) PadID() int64 { return t.padID }

// Encode returns the ids open_clip's HFTokenizer feeds the model for text: the "whitespace" cleaning, then
// BertTokenizer(text, max_length=ContextLength, padding="max_length", truncation=True).
func (t *BERT) Encode(text string) []int64 {
	return pad(t.Tokens(text), t.ctx, t.padID)
}

// Tokens returns the ids of Encode before padding.
func (t *BERT) Tokens(text string) []int64 {
	return t.EncodeRaw(cleanWhitespace(text))
}

// EncodeRaw returns what transformers' BertTokenizer(text, max_length=ContextLength, truncation=True) returns for
// text as it is (no open_clip cleaning): [CLS], the WordPiece ids truncated to ContextLength-2, [SEP].
func (t *BERT) EncodeRaw(text string) []int64 {
	ids := []int64{t.cls}
	text = validUTF8(text)
	for text != "" {
		i, special := t.nextSpecial(text)
		ids = t.appendWordPieces(ids, text[:i])
		if special == nil {
			break
		}
		ids = append(ids, special.id)
		text = text[i+len(special.content):]
	}
	if len(ids) > t.ctx-1 {
		ids = ids[:t.ctx-1]
	}
	return append(ids, t.sep)
}

// nextSpecial finds the leftmost special token in s (the longest one there); it returns len(s), nil when none.
func (t *BERT) nextSpecial(s string) (int, *addedToken) {
	best, found := len(s), (*addedToken)(nil)
	for k := range t.specials { // longest first, so a later one at the same place is shorter
		if sp := &t.specials[k]; sp.content != "" {
			if i := strings.Index(s[:min(len(s), best+len(sp.content))], sp.content); i >= 0 && i < best {
				best, found = i, sp
			}
		}
	}
	return best, found
}

// appendWordPieces normalizes s (BertNormalizer), splits it into words (BertPreTokenizer: whitespace separates,
// punctuation characters stand alone) and appends their WordPiece ids.
func (t *BERT) appendWordPieces(ids []int64, s string) []int64 {
	s = string(t.norm.apply(s))
	var buf []byte
	start := -1 // start of the current word, -1: none
	for i, r := range s {
		space, punct := unicode.IsSpace(r), isBertPunct(r)
		if (space || punct) && start >= 0 {
			ids, buf = t.wordPiece(ids, buf, s[start:i])
			start = -1
		}
		switch {
		case punct:
			ids, buf = t.wordPiece(ids, buf, s[i:i+utf8.RuneLen(r)])
		case !space && start < 0:
			start = i
		}
	}
	if start >= 0 {
		ids, _ = t.wordPiece(ids, buf, s[start:])
	}
	return ids
}

// isBertPunct is the BertPreTokenizer's punctuation: ASCII punctuation or a Unicode P* character.
func isBertPunct(r rune) bool {
	return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~') ||
		(r >= utf8.RuneSelf && unicode.IsPunct(r))
}

// wordPiece appends the ids of one word: greedy longest-match-first pieces, later pieces prefixed with "##"; the
// whole word is [UNK] when it is longer than maxChars characters or a part of it matches nothing (the tokenizers
// library's WordPiece model). buf is scratch space, returned for reuse.
func (t *BERT) wordPiece(ids []int64, buf []byte, word string) ([]int64, []byte) {
	if utf8.RuneCountInString(word) > t.maxChars {
		return append(ids, t.unk), buf
	}
	n := len(ids)
	for start := 0; start < len(word); {
		end := len(word)
		for ; end > start; end -= lastRuneLen(word[start:end]) {
			buf = buf[:0]
			if start > 0 {
				buf = append(buf, t.prefix...)
			}
			buf = append(buf, word[start:end]...)
			if id, ok := t.vocab[string(buf)]; ok {
				ids = append(ids, id)
				break
			}
		}
		if end == start {
			return append(ids[:n], t.unk), buf
		}
		start = end
	}
	return ids, buf
}

func lastRuneLen(s string) int {
	_, size := utf8.DecodeLastRuneInString(s)
	return size
}

// apply is the tokenizers library's BertNormalizer: drop NUL, U+FFFD and control characters (Cc, Cf, Co, except
// tab, LF and CR) and turn whitespace into spaces; put spaces around CJK ideographs; strip accents (NFD, then drop
// Mn); lowercase each character (its full lowercase mapping).
func (n bertNormalizer) apply(s string) []rune {
	out := make([]rune, 0, len(s))
	ascii := true
	for _, r := range s {
		if n.cleanText {
			if r == 0 || r == 0xfffd || isBertControl(r) {
				continue
			}
			if unicode.IsSpace(r) {
				r = ' '
			}
		}
		if n.chineseChars && isChineseChar(r) {
			out = append(out, ' ', r, ' ')
			ascii = false
			continue
		}
		ascii = ascii && r < utf8.RuneSelf
		out = append(out, r)
	}
	if n.stripAccents && !ascii { // NFD and Mn leave ASCII alone
		decomposed := norm.NFD.String(string(out))
		out = out[:0]
		for _, r := range decomposed {
			if !unicode.Is(unicode.Mn, r) {
				out = append(out, r)
			}
		}
	}
	if n.lowercase {
		lowered := out[:0:0]
		for _, r := range out {
			switch {
			case r < utf8.RuneSelf:
				if r >= 'A' && r <= 'Z' {
					r += 'a' - 'A'
				}
			case r == 0x130: // İ: the one unconditional multi-character lowercase mapping
				lowered = append(lowered, 'i')
				r = 0x307
			default:
				r = unicode.ToLower(r)
			}
			lowered = append(lowered, r)
		}
		out = lowered
	}
	return out
}

// isBertControl is the BertNormalizer's control test: categories Cc, Cf and Co, except tab, LF and CR.
func isBertControl(r rune) bool {
	if r < utf8.RuneSelf {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isChineseChar is the BertNormalizer's CJK test, with the tokenizers library's ranges (its fifth range starts at
// U+2B920, where Google's BERT and transformers' Python BasicTokenizer start it at U+2B820).
func isChineseChar(r rune) bool {
	return r >= 0x3400 && ((r >= 0x4e00 && r <= 0x9fff) || (r >= 0x3400 && r <= 0x4dbf) ||
		(r >= 0x20000 && r <= 0x2a6df) || (r >= 0x2a700 && r <= 0x2b73f) || (r >= 0x2b740 && r <= 0x2b81f) ||
		(r >= 0x2b920 && r <= 0x2ceaf) || (r >= 0xf900 && r <= 0xfaff) || (r >= 0x2f800 && r <= 0x2fa1f))
}
