package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testMerges is a small CLIP merges list. With open_clip's layout the ids are: byte symbols 0..255 in
// bytes_to_unicode order (printable bytes first: '!'=0 … 'a'=64, 'h'=71, 'i'=72, 'x'=87), the same with "</w>"
// 256..511, the merges 512..517 ("he", "hel", "hell", "hello</w>", "it", "'s</w>"), <start_of_text>=518 and
// <end_of_text>=519.
var testMerges = []string{"h e", "he l", "hel l", "hell o</w>", "i t", "' s</w>"}

const testSOT, testEOT = 518, 519

func gzipFile(t testing.TB, content string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	path := filepath.Join(t.TempDir(), "bpe.txt.gz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

func testCLIP(t *testing.T, ctx int) *CLIP {
	t.Helper()
	tok, err := NewCLIP(gzipFile(t, "#version: test\n"+strings.Join(testMerges, "\n")), ctx)
	require.NoError(t, err)
	return tok
}

// hfVocab is the vocabulary of testMerges in Hugging Face's vocab.json form.
func hfVocab(t *testing.T) map[string]int64 {
	t.Helper()
	vocab := map[string]int64{}
	syms := bytesToUnicode()
	for i, b := range byteOrder() {
		vocab[syms[b]] = int64(i)
		vocab[syms[b]+"</w>"] = int64(256 + i)
	}
	for i, m := range testMerges {
		vocab[strings.ReplaceAll(m, " ", "")] = int64(512 + i)
	}
	vocab["<|startoftext|>"], vocab["<|endoftext|>"] = testSOT, testEOT
	return vocab
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestCLIPTokens(t *testing.T) {
	tok := testCLIP(t, 77)
	for _, tc := range []struct {
		name string
		in   string
		want []int64
	}{
		{"merges down to one symbol", "Hello", []int64{testSOT, 515, testEOT}},
		{"contraction and unranked pair", "it's", []int64{testSOT, 72, 256 + 83, 517, testEOT}},
		{"no merge applies", "hi", []int64{testSOT, 71, 256 + 72, testEOT}},
		{"digits are single", "a12", []int64{testSOT, 256 + 64, 256 + 16, 256 + 17, testEOT}},
		{"utf-8 bytes", "é", []int64{testSOT, 127, 256 + 102, testEOT}},
		{"special token literal", "x <END_OF_TEXT>", []int64{testSOT, 256 + 87, testEOT, testEOT}},
		{"cleaned first", "&quot;x&quot;", []int64{testSOT, 256 + 1, 256 + 87, 256 + 1, testEOT}},
		{"empty", "", []int64{testSOT, testEOT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tok.Tokens(tc.in))
		})
	}
}

func TestCLIPTruncationAndPadding(t *testing.T) {
	tok := testCLIP(t, 4)
	assert.Equal(t, []int64{testSOT, 256 + 64, 256 + 65, testEOT}, tok.Encode("a b c d"), "end of text stays last")
	assert.Equal(t, []int64{testSOT, 515, testEOT, 0}, tok.Encode("hello"), "padded with 0")
	assert.Equal(t, 4, tok.ContextLength())
	assert.Equal(t, int64(0), tok.PadID())
	assert.Equal(t, "clip-bpe", tok.Name())
	assert.Equal(t, []int64{testSOT, 515, testEOT, 0, testSOT, testEOT, 0, 0}, EncodeBatch(tok, []string{"hello", ""}))
}

// split is re.findall of open_clip's pattern; the expectations follow the regex module (IGNORECASE).
func TestCLIPSplit(t *testing.T) {
	tok := testCLIP(t, 77)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"it's a test's", []string{"it", "'s", "a", "test", "'s"}},
		{"x'll'd're've'm't", []string{"x", "'ll", "'d", "'re", "'ve", "'m", "'t"}},
		{"'''s", []string{"'''", "s"}},
		{"co2 1999", []string{"co", "2", "1", "9", "9", "9"}},
		{"α-β!! ...", []string{"α", "-", "β", "!!", "..."}},
		{"<start_of_text>x<end_of_text>", []string{"<start_of_text>", "x", "<end_of_text>"}},
		{"<ſtart_of_text> it'ſ", []string{"<ſtart_of_text>", "it", "'ſ"}},
		{"\u0345ab", []string{"ab"}},
		{"a\u200bb", []string{"a", "\u200b", "b"}},
		{"肺癌 🫁", []string{"肺癌", "🫁"}},
	} {
		assert.Equal(t, tc.want, tok.split(tc.in), "%q", tc.in)
	}
}

// As in open_clip, a blank line among the merges read takes a vocabulary place: here the final newline moves the
// special tokens from 518, 519 to 519, 520.
func TestCLIPBlankMergeLine(t *testing.T) {
	tok, err := NewCLIP(gzipFile(t, "#version: test\n"+strings.Join(testMerges, "\n")+"\n"), 77)
	require.NoError(t, err)
	assert.Equal(t, []int64{519, 515, 520}, tok.Tokens("hello"))
}

// The three vocabulary formats give the same ids.
func TestCLIPFormats(t *testing.T) {
	vocab := hfVocab(t)
	merges := "#version: 0.2\n" + strings.Join(testMerges, "\n") + "\n"
	pairs := make([][]string, len(testMerges))
	for i, m := range testMerges {
		pairs[i] = strings.Split(m, " ")
	}
	tokenizerJSON := func(merges any) string {
		return mustJSON(t, map[string]any{"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges,
			"end_of_word_suffix": "</w>"}})
	}
	for name, path := range map[string]string{
		"vocab.json and merges.txt": writeFiles(t, map[string]string{"vocab.json": mustJSON(t, vocab), "merges.txt": merges}),
		"tokenizer.json, string merges": filepath.Join(writeFiles(t, map[string]string{
			"tokenizer.json": tokenizerJSON(testMerges)}), "tokenizer.json"),
		"folder with tokenizer.json, pair merges": writeFiles(t, map[string]string{"tokenizer.json": tokenizerJSON(pairs)}),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := NewCLIP(path, 77)
			require.NoError(t, err)
			assert.Equal(t, []int64{testSOT, 515, 72, 256 + 83, 517, testEOT}, tok.Tokens("hello it's"))
			assert.Equal(t, []int64{testSOT, testSOT, testEOT}, tok.Tokens("<|startoftext|>"))
		})
	}
}

func TestNewCLIPErrors(t *testing.T) {
	vocab := hfVocab(t)
	noByte := hfVocab(t)
	delete(noByte, "a</w>")
	noMerge := hfVocab(t)
	delete(noMerge, "hel")
	noSpecial := hfVocab(t)
	delete(noSpecial, "<|endoftext|>")
	merges := "#version: 0.2\n" + strings.Join(testMerges, "\n")
	for _, tc := range []struct {
		name string
		path string
		ctx  int
		want string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.txt.gz"), 77, "opening CLIP vocabulary"},
		{"empty folder", t.TempDir(), 77, "holds no CLIP vocabulary"},
		{"unknown file type", filepath.Join(writeFiles(t, map[string]string{"bpe.txt": "x"}), "bpe.txt"), 77,
			"is not a CLIP vocabulary"},
		{"not gzip", filepath.Join(writeFiles(t, map[string]string{"bpe.txt.gz": "plain"}), "bpe.txt.gz"), 77, "is not gzip"},
		{"malformed merge", gzipFile(t, "#v\nh e\nhe l x\n"), 77, `line 3: malformed merge "he l x"`},
		{"header only", gzipFile(t, "#v"), 77, "holds no merges"},
		{"byte symbol missing", writeFiles(t, map[string]string{"vocab.json": mustJSON(t, noByte), "merges.txt": merges}),
			77, `lacks the byte symbol "a</w>"`},
		{"merge result missing", writeFiles(t, map[string]string{"vocab.json": mustJSON(t, noMerge), "merges.txt": merges}),
			77, `lacks "hel", the result of merge 1`},
		{"no end of text", writeFiles(t, map[string]string{"vocab.json": mustJSON(t, noSpecial), "merges.txt": merges}),
			77, `has no end-of-text token ("<|endoftext|>")`},
		{"vocab.json not an object", writeFiles(t, map[string]string{"vocab.json": "[1]", "merges.txt": merges}), 77,
			"want a JSON object"},
		{"WordPiece tokenizer.json", writeFiles(t, map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece"}}`}),
			77, `model type "WordPiece" is not BPE`},
		{"no end-of-word suffix", writeFiles(t, map[string]string{"tokenizer.json": mustJSON(t, map[string]any{
			"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": testMerges}})}), 77, "end_of_word_suffix"},
		{"malformed tokenizer.json merge", writeFiles(t, map[string]string{"tokenizer.json": mustJSON(t, map[string]any{
			"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"a b c"}, "end_of_word_suffix": "</w>"}})}),
			77, `merge 0 "a b c" is malformed`},
		{"context too short", gzipFile(t, "#v\nh e\n"), 1, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCLIP(tc.path, tc.ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Only U+0345 has a letter among its case variants without being a letter itself, so IGNORECASE drops it from
// [^\s\p{L}\p{N}] (checked against the regex module over every code point).
func TestCLIPOtherClassUnderIgnoreCase(t *testing.T) {
	var excluded []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !isCLIPOther(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsSpace(r) {
			excluded = append(excluded, r)
		}
	}
	assert.Equal(t, []rune{0x345}, excluded)
}

// Encode may be called from several goroutines (run with -race): the results equal the sequential ones.
func TestConcurrentEncode(t *testing.T) {
	texts := []string{"hello it's", "Ménétrier", "a b c", "hi hi hi", "x'll", "é"}
	for _, tok := range []Tokenizer{testCLIP(t, 16), testBERT(t, 16)} {
		want := EncodeBatch(tok, texts)
		var wg sync.WaitGroup
		got := make([][]int64, 8)
		for g := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[g] = EncodeBatch(tok, texts)
			}()
		}
		wg.Wait()
		for g := range got {
			assert.Equal(t, want, got[g], "%s goroutine %d", tok.Name(), g)
		}
	}
}
