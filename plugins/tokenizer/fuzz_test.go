package tokenizer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
)

// fuzzTexts are caption-like seeds: accents, CJK, HTML entities, mojibake, special tokens, long words, controls.
func fuzzTexts() []string {
	return []string{
		"", "a photo of a cat.", "Ménétrier's disease, X-ray", "肺癌 CT 中文", "&amp;lt;b&amp;gt; &#x41;&#65; &nbsp;",
		"cafÃ© â€œquotedâ€\u009d", "[CLS] [SEP] [MASK] [PAD] [UNK]", "<start_of_text>x<end_of_text>", "<|startoftext|>",
		strings.Repeat("pneumonoultramicroscopicsilicovolcanoconiosis", 3), "İstanbul ΟΔΥΣΣΕΥΣ ﬁne ｆｕｌｌ",
		"a\u200bb\x00c\ufffd\x1b[31mred\x1b[0m\r\n\t", "\xff\xfe invalid \xc3", strings.Repeat("word ", 80), "it's 'll 'VE",
	}
}

// checkRow asserts the shape of a tokenizer's output row: ContextLength ids, each an id of the vocabulary, first
// first, last right after the text's ids (or at the end when truncated), pad after it.
func checkRow(t *testing.T, tok Tokenizer, row, tokens []int64, ids map[int64]bool, first, last int64) {
	t.Helper()
	require.Len(t, row, tok.ContextLength())
	require.GreaterOrEqual(t, len(tokens), 2)
	require.LessOrEqual(t, len(tokens), tok.ContextLength())
	assert.Equal(t, tokens, row[:len(tokens)], "Encode is Tokens padded")
	assert.Equal(t, first, tokens[0])
	assert.Equal(t, last, tokens[len(tokens)-1])
	for i, id := range row {
		assert.True(t, ids[id], "id %d at %d is not in the vocabulary", id, i)
		if i >= len(tokens) {
			assert.Equal(t, tok.PadID(), id, "padding at %d", i)
		}
	}
}

// vocabIDs returns the set of ids of a vocabulary.
func vocabIDs(vocab map[string]int64) map[int64]bool {
	ids := make(map[int64]bool, len(vocab))
	for _, id := range vocab {
		ids[id] = true
	}
	return ids
}

// fuzzBERTs returns the small test vocabulary's BERT tokenizer at increasing context lengths, and BiomedCLIP's
// when ../shared is there.
func fuzzBERTs(f *testing.F) (small []*BERT, shared *BERT) {
	dir := writeFiles(f, map[string]string{"vocab.txt": strings.Join(testVocab, "\n") + "\n"})
	for _, ctx := range []int{2, 9, 64} {
		tok, err := NewBERT(dir, ctx)
		require.NoError(f, err)
		small = append(small, tok)
	}
	if p, ok := sharedtest.Optional(f, "fixtures", "tiny-a", "biomedclip"); ok {
		var err error
		shared, err = NewBERT(p, 256)
		require.NoError(f, err)
	}
	return small, shared
}

// FuzzBERT encodes fuzzed texts with BERT WordPiece tokenizers: every row is ContextLength ids of the vocabulary,
// [CLS] first, [SEP] after the text's ids, [PAD] after it; Tokens is EncodeRaw of the cleaned text; a shorter
// context keeps the first ids of a longer one.
func FuzzBERT(f *testing.F) {
	small, shared := fuzzBERTs(f)
	for _, s := range fuzzTexts() {
		f.Add(s)
	}
	toks := small
	if shared != nil {
		toks = append(toks[:len(toks):len(toks)], shared)
	}
	ids := make([]map[int64]bool, len(toks))
	for i, tok := range toks {
		ids[i] = vocabIDs(tok.vocab)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var rows [][]int64
		for i, tok := range toks {
			tokens := tok.Tokens(text)
			checkRow(t, tok, tok.Encode(text), tokens, ids[i], tok.cls, tok.sep)
			assert.Equal(t, tok.EncodeRaw(cleanWhitespace(text)), tokens, "Tokens is EncodeRaw of the cleaned text")
			rows = append(rows, tokens)
		}
		for i := 1; i < len(small); i++ {
			short, long := rows[i-1], rows[i]
			assert.Equal(t, short[:len(short)-1], long[:len(short)-1], "truncation keeps the first ids")
		}
	})
}

// fuzzCLIPs returns the small test merges' CLIP tokenizer at two context lengths, and OpenAI CLIP's when ../shared
// is there.
func fuzzCLIPs(f *testing.F) []*CLIP {
	p := gzipFile(f, "#version: test\n"+strings.Join(testMerges, "\n"))
	var toks []*CLIP
	for _, ctx := range []int{2, 8, 77} {
		tok, err := NewCLIP(p, ctx)
		require.NoError(f, err)
		toks = append(toks, tok)
	}
	if p, ok := sharedtest.Optional(f, "vocab", "bpe_simple_vocab_16e6.txt.gz"); ok {
		tok, err := NewCLIP(p, 77)
		require.NoError(f, err)
		toks = append(toks, tok)
	}
	return toks
}

// FuzzCLIP encodes fuzzed texts with CLIP BPE tokenizers: every row is ContextLength ids of the vocabulary,
// start of text first, end of text last or after the text's ids, 0 after it; and an untruncated row decodes back
// to the words the CLIP pattern finds in the cleaned text, byte for byte.
func FuzzCLIP(f *testing.F) {
	toks := fuzzCLIPs(f)
	for _, s := range fuzzTexts() {
		f.Add(s)
	}
	ids, decoders := make([]map[int64]bool, len(toks)), make([]clipDecoder, len(toks))
	for i, tok := range toks {
		ids[i], decoders[i] = vocabIDs(tok.encoder), newCLIPDecoder(tok)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var rows [][]int64
		for i, tok := range toks {
			tokens := tok.Tokens(text)
			checkRow(t, tok, tok.Encode(text), tokens, ids[i], tok.sot, tok.eot)
			rows = append(rows, tokens)
			if len(tokens) == tok.ContextLength() {
				continue // perhaps truncated: the last text id gave way to end of text
			}
			words := tok.split(cleanLower(text))
			assert.Equal(t, strings.Join(words, ""), decoders[i].decode(t, tokens[1:len(tokens)-1]), "decoding the ids gives the words")
		}
		for i := 1; i < 3; i++ {
			short, long := rows[i-1], rows[i]
			assert.Equal(t, short[:len(short)-1], long[:len(short)-1], "truncation keeps the first ids")
		}
	})
}

// clipDecoder turns CLIP ids back into text: each id's vocabulary entry without "</w>", its symbols mapped back to
// the bytes bytes_to_unicode gave them; the special tokens as the vocabulary spells them.
type clipDecoder struct {
	tok    *CLIP
	byID   map[int64]string
	byteOf map[string]byte
}

func newCLIPDecoder(tok *CLIP) clipDecoder {
	d := clipDecoder{tok: tok, byID: make(map[int64]string, len(tok.encoder)), byteOf: map[string]byte{}}
	for s, id := range tok.encoder {
		d.byID[id] = s
	}
	for b, s := range tok.byteSyms {
		d.byteOf[s] = byte(b)
	}
	return d
}

func (d clipDecoder) decode(t *testing.T, ids []int64) string {
	var out []byte
	for _, id := range ids {
		switch id {
		case d.tok.sot:
			out = append(out, d.tok.specials[0]...)
			continue
		case d.tok.eot:
			out = append(out, d.tok.specials[1]...)
			continue
		}
		s, ok := d.byID[id]
		require.True(t, ok, "id %d", id)
		for _, r := range strings.TrimSuffix(s, "</w>") {
			b, ok := d.byteOf[string(r)]
			require.True(t, ok, "symbol %q of %q is not a byte's", r, s)
			out = append(out, b)
		}
	}
	return string(out)
}
