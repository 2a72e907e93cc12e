// Package tokenizer turns captions into the token ids the text towers of CLIP-style models take, bit for bit as
// the Python reference stack does:
//
//   - BERT: open_clip's HFTokenizer ("whitespace" cleaning) over transformers' BertTokenizer (v5, backed by the
//     Rust tokenizers library: BertNormalizer, BertPreTokenizer, WordPiece, "[CLS] … [SEP]", truncation, padding),
//     as BiomedCLIP uses it.
//   - CLIP: open_clip's SimpleTokenizer ("lower" cleaning, the CLIP regex, byte-level BPE with "</w>"), as OpenAI
//     CLIP uses it.
//
// Both clean text the open_clip way first: ftfy.fix_text (a Go port of the fixers captions need, see clean.go),
// html.unescape twice, runs of whitespace collapsed, ends stripped.
//
// Unicode tables: Go 1.26's unicode package and golang.org/x/text/unicode/norm are Unicode 15.0. Python 3.11's
// unicodedata is Unicode 14.0 (3.12: 15.0, 3.13: 15.1), the regex module and Rust's std follow newer editions,
// and the unicode_categories crate the Rust BERT normalizer uses for its categories is older. The results can
// therefore differ only for code points whose properties changed between those editions (mostly characters
// assigned after Unicode 14); no caption in the reference fixtures has one.
package tokenizer

// Tokenizer turns texts into the fixed-length id rows a text encoder takes.
type Tokenizer interface {
	// Encode returns exactly ContextLength ids for text: cleaned, tokenized, truncated and padded, as fed to the
	// model.
	Encode(text string) []int64
	// ContextLength is the number of ids Encode returns.
	ContextLength() int
	// PadID is the id that fills a row after the text.
	PadID() int64
	// Name names the algorithm: "bert-wordpiece" or "clip-bpe".
	Name() string
}

// EncodeBatch encodes texts into one row-major [len(texts), t.ContextLength()] block.
func EncodeBatch(t Tokenizer, texts []string) []int64 {
	n := t.ContextLength()
	out := make([]int64, 0, len(texts)*n)
	for _, text := range texts {
		out = append(out, t.Encode(text)...)
	}
	return out
}

// pad returns ids followed by pad up to n ids (ids is at most n long).
func pad(ids []int64, n int, padID int64) []int64 {
	out := make([]int64, n)
	copy(out, ids)
	for i := len(ids); i < n; i++ {
		out[i] = padID
	}
	return out
}
