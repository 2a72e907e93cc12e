package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testVocab is a small uncased WordPiece vocabulary; a token's id is its index.
var testVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", // 0..4
	"un", "##aff", "##able", "a", "##b", // 5..9
	",", ".", "'", "s", "menetrier", // 10..14
	"中", "文", "x", "-", "ray", // 15..19
	"i", "hello", // 20..21
}

// writeFiles writes name -> content into a new temporary folder.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

func testBERT(t *testing.T, ctx int) *BERT {
	t.Helper()
	tok, err := NewBERT(writeFiles(t, map[string]string{"vocab.txt": strings.Join(testVocab, "\n") + "\n"}), ctx)
	require.NoError(t, err)
	return tok
}

func TestBERTNormalizer(t *testing.T) {
	n := bertNormalizer{cleanText: true, chineseChars: true, stripAccents: true, lowercase: true}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"lower and strip accents", "Ménétrier ÀÉÎ", "menetrier aei"},
		{"controls dropped, whitespace to space", "a\u200bb\x00c\ufffdd\te\nf\u3000g\x07h\u0085i", "abcd e f ghi"},
		{"cjk split", "肺癌x", " 肺  癌 x"},
		{"hangul is not cjk (NFD makes jamo)", "한국", "\u1112\u1161\u11ab\u1100\u116e\u11a8"},
		{"dotted capital I", "İ", "i"},
		{"greek final sigma is not special", "ΟΔΥΣΣΕΥΣ", "οδυσσευσ"},
		{"private use dropped", "a\ue000b", "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(n.apply(tc.in)))
		})
	}
	cased := bertNormalizer{cleanText: true, chineseChars: false, stripAccents: false, lowercase: false}
	assert.Equal(t, "İ Mé 肺", string(cased.apply("İ Mé 肺")))
	lowerOnly := bertNormalizer{lowercase: true}
	assert.Equal(t, "i\u0307", string(lowerOnly.apply("İ")))
}

func TestBERTEncodeRaw(t *testing.T) {
	tok := testBERT(t, 16)
	for _, tc := range []struct {
		name string
		in   string
		want []int64
	}{
		{"word pieces", "unaffable", []int64{2, 5, 6, 7, 3}},
		{"punctuation split", "A,b's.", []int64{2, 8, 10, 1, 12, 13, 11, 3}},
		{"accents and case", "MÉNÉTRIER", []int64{2, 14, 3}},
		{"unmatched remainder makes the word [UNK]", "unx", []int64{2, 1, 3}},
		{"continuation pieces", "abb", []int64{2, 8, 9, 9, 3}},
		{"cjk", "中文x", []int64{2, 15, 16, 17, 3}},
		{"dash splits", "x-ray", []int64{2, 17, 18, 19, 3}},
		{"special tokens kept verbatim", "a[MASK]b [SEP]", []int64{2, 8, 4, 1, 3, 3}},
		{"special tokens are case sensitive", "[mask]", []int64{2, 1, 1, 1, 3}},
		{"empty", "", []int64{2, 3}},
		{"only spaces and controls", " \t\u200b ", []int64{2, 3}},
		{"101 characters is [UNK]", strings.Repeat("a", 101), []int64{2, 1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tok.EncodeRaw(tc.in))
		})
	}
}

func TestBERTWordLengthLimit(t *testing.T) {
	tok := testBERT(t, 128)
	want := []int64{2, 8}
	for i := 0; i < 99; i++ {
		want = append(want, 9)
	}
	assert.Equal(t, append(want, 3), tok.EncodeRaw("a"+strings.Repeat("b", 99)), "100 characters: pieces")
	assert.Equal(t, []int64{2, 1, 3}, tok.EncodeRaw("a"+strings.Repeat("b", 100)), "101 characters: [UNK]")
}

func TestBERTTruncationAndPadding(t *testing.T) {
	tok := testBERT(t, 5)
	assert.Equal(t, []int64{2, 8, 8, 8, 3}, tok.EncodeRaw("a a a a a a"), "[SEP] stays last")
	assert.Equal(t, []int64{2, 21, 3, 0, 0}, tok.Encode("  HELLO\n"), "padded with [PAD]")
	assert.Equal(t, []int64{2, 21, 3}, tok.Tokens("  HELLO\n"))
	assert.Equal(t, 5, tok.ContextLength())
	assert.Equal(t, int64(0), tok.PadID())
	assert.Equal(t, "bert-wordpiece", tok.Name())
	assert.Equal(t, []int64{2, 21, 3, 0, 0, 2, 3, 0, 0, 0}, EncodeBatch(tok, []string{"hello", ""}))
}

// Tokens applies open_clip's cleaning first: here ftfy turns ’ into ' and &amp; into &.
func TestBERTTokensCleansFirst(t *testing.T) {
	tok := testBERT(t, 16)
	assert.Equal(t, []int64{2, 8, 12, 13, 3}, tok.Tokens("a’s"))
	assert.Equal(t, []int64{2, 8, 1, 3}, tok.EncodeRaw("a’"), "’ is no vocabulary entry")
}

func TestNewBERTFromTokenizerJSON(t *testing.T) {
	vocab := `{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "Hello": 4, "hello": 5}`
	tj := func(lowercase string) string {
		return `{"added_tokens": [{"id": 0, "content": "[PAD]", "normalized": false}, {"id": 2, "content": "[CLS]", "normalized": false}],
			"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": ` + lowercase + `},
			"pre_tokenizer": {"type": "BertPreTokenizer"},
			"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 3, "vocab": ` + vocab + `}}`
	}
	tok, err := NewBERT(writeFiles(t, map[string]string{"tokenizer.json": tj("true")}), 8)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 1, 2, 3}, tok.EncodeRaw("HELLO[CLS]"), "max_input_chars_per_word=3 makes hello [UNK]")

	tok, err = NewBERT(writeFiles(t, map[string]string{"tokenizer.json": strings.Replace(tj("false"), `"max_input_chars_per_word": 3`, `"max_input_chars_per_word": 100`, 1)}), 8)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 4, 3}, tok.EncodeRaw("Hello"), "cased")
}

func TestNewBERTErrors(t *testing.T) {
	goodVocab := strings.Join(testVocab, "\n")
	for _, tc := range []struct {
		name  string
		files map[string]string
		ctx   int
		want  string
	}{
		{"empty folder", map[string]string{}, 256, "has neither vocab.txt nor tokenizer.json"},
		{"empty vocab.txt", map[string]string{"vocab.txt": ""}, 256, "vocab.txt is empty"},
		{"no [CLS]", map[string]string{"vocab.txt": "[PAD]\n[UNK]\n[SEP]\n"}, 256, `the cls token "[CLS]" is not in the vocabulary`},
		{"renamed special token missing", map[string]string{"vocab.txt": goodVocab,
			"tokenizer_config.json": `{"cls_token": {"content": "<s>"}}`}, 256, `the cls token "<s>" is not in the vocabulary`},
		{"bad tokenizer_config.json", map[string]string{"vocab.txt": goodVocab, "tokenizer_config.json": "{"}, 256,
			"parsing"},
		{"bad special token", map[string]string{"vocab.txt": goodVocab, "tokenizer_config.json": `{"unk_token": 3}`},
			256, "unk_token"},
		{"other normalizer", map[string]string{"vocab.txt": goodVocab,
			"tokenizer.json": `{"normalizer": {"type": "NFKC"}, "model": {"type": "WordPiece"}}`}, 256, `only a BertNormalizer is supported for BERT models (found "NFKC")`},
		{"no pre-tokenizer", map[string]string{"vocab.txt": goodVocab,
			"tokenizer.json": `{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "WordPiece"}}`}, 256, "only a BertPreTokenizer is supported for BERT models (found none)"},
		{"BPE tokenizer.json", map[string]string{"tokenizer.json": `{"normalizer": {"type": "BertNormalizer"},
			"pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "BPE"}}`}, 256, `model type "BPE" is not WordPiece`},
		{"context too short", map[string]string{"vocab.txt": goodVocab}, 1, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBERT(writeFiles(t, tc.files), tc.ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := NewBERT(filepath.Join(t.TempDir(), "missing"), 256)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opening BERT model folder")

	file := filepath.Join(writeFiles(t, map[string]string{"vocab.txt": goodVocab}), "vocab.txt")
	_, err = NewBERT(file, 256)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a folder")
}
