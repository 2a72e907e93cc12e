package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// clipMerges is the number of merges open_clip (and transformers' CLIPTokenizer) read from the merges list:
// 49152 - 256 - 2, which with 2 × 256 byte symbols and 2 special tokens makes the 49408-token vocabulary.
const clipMerges = 49152 - 256 - 2

// cacheLimit bounds the BPE cache of one CLIP tokenizer (the cache only saves time; it is emptied when full).
const cacheLimit = 1 << 16

// CLIP is OpenAI CLIP's byte-level BPE tokenizer as open_clip's SimpleTokenizer runs it. It is safe for concurrent
// use.
type CLIP struct {
	encoder  map[string]int64
	ranks    map[bpePair]int
	byteSyms [256]string // bytes_to_unicode: the symbol of each byte
	specials [2]string   // start and end of text, as the vocabulary spells them
	sot, eot int64
	ctx      int

	mu    sync.Mutex
	cache map[string][]int64 // byte-encoded word -> ids
}

type bpePair struct{ a, b string }

// NewCLIP loads a CLIP BPE vocabulary from path: open_clip's bpe_simple_vocab_16e6.txt.gz (a header line, then the
// merges), a Hugging Face folder with vocab.json and merges.txt, a tokenizer.json (or a folder holding one of
// these). contextLength is the row length (77 for CLIP).
func NewCLIP(path string, contextLength int) (*CLIP, error) {
	if contextLength < 2 {
		return nil, fmt.Errorf("tokenizer: CLIP context length %d is too short: start and end of text need 2", contextLength)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: opening CLIP vocabulary: %w", err)
	}
	t := &CLIP{ctx: contextLength, cache: make(map[string][]int64), byteSyms: bytesToUnicode()}
	switch {
	case st.IsDir():
		err = t.loadDir(path)
	case strings.HasSuffix(path, ".gz"):
		err = t.loadOpenCLIP(path)
	case strings.HasSuffix(path, ".json"):
		err = t.loadTokenizerJSON(path)
	default:
		err = fmt.Errorf("tokenizer: %s is not a CLIP vocabulary: give a .txt.gz BPE file, a tokenizer.json or a folder with vocab.json and merges.txt", path)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// loadDir loads the first of vocab.json+merges.txt, tokenizer.json and bpe_simple_vocab_16e6.txt.gz found in dir.
func (t *CLIP) loadDir(dir string) error {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case exists("vocab.json") && exists("merges.txt"):
		return t.loadVocabMerges(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	case exists("tokenizer.json"):
		return t.loadTokenizerJSON(filepath.Join(dir, "tokenizer.json"))
	case exists("bpe_simple_vocab_16e6.txt.gz"):
		return t.loadOpenCLIP(filepath.Join(dir, "bpe_simple_vocab_16e6.txt.gz"))
	}
	return fmt.Errorf("tokenizer: folder %s holds no CLIP vocabulary (vocab.json and merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz)", dir)
}

// loadOpenCLIP reads open_clip's gzipped merges file and builds the vocabulary the way SimpleTokenizer does: the
// 256 byte symbols, the same with "</w>", one token per merge, then <start_of_text> and <end_of_text>.
func (t *CLIP) loadOpenCLIP(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tokenizer: opening CLIP BPE file: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("tokenizer: %s is not gzip: %w", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("tokenizer: decompressing %s: %w", path, err)
	}
	lines := strings.Split(string(data), "\n")
	merges, err := parseMerges(lines, path)
	if err != nil {
		return err
	}
	var vocab []string
	for _, b := range byteOrder() {
		vocab = append(vocab, t.byteSyms[b])
	}
	for _, b := range byteOrder() {
		vocab = append(vocab, t.byteSyms[b]+"</w>")
	}
	for _, m := range merges {
		vocab = append(vocab, m.a+m.b)
	}
	t.specials = [2]string{"<start_of_text>", "<end_of_text>"}
	vocab = append(vocab, t.specials[:]...)
	t.encoder = make(map[string]int64, len(vocab))
	for i, s := range vocab { // a later duplicate wins, as in dict(zip(vocab, range(len(vocab))))
		t.encoder[s] = int64(i)
	}
	t.setRanks(merges)
	return t.setSpecials(path)
}

// parseMerges reads the merges of a merges file: the first line is a header, then at most clipMerges lines of two
// symbols each (lines[1:49152-256-2+1] in open_clip and transformers). A blank line is an empty merge, as in
// Python, where it still takes a place in the vocabulary (a file that ends in a newline before the cut therefore
// shifts the special tokens by one, there and here).
func parseMerges(lines []string, path string) ([]bpePair, error) {
	if len(lines) < 2 {
		return nil, fmt.Errorf("tokenizer: %s holds no merges (a header line, then one merge per line)", path)
	}
	lines = lines[1:min(len(lines), clipMerges+1)]
	merges := make([]bpePair, 0, len(lines))
	for i, line := range lines {
		fields := strings.FieldsFunc(line, pyIsSpace)
		switch len(fields) {
		case 0:
			merges = append(merges, bpePair{})
		case 2:
			merges = append(merges, bpePair{fields[0], fields[1]})
		default:
			return nil, fmt.Errorf("tokenizer: %s line %d: malformed merge %q (want two symbols separated by a space)", path, i+2, line)
		}
	}
	return merges, nil
}

// loadVocabMerges reads a Hugging Face CLIPTokenizer's vocab.json and merges.txt.
func (t *CLIP) loadVocabMerges(vocabPath, mergesPath string) error {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return fmt.Errorf("tokenizer: reading CLIP vocabulary: %w", err)
	}
	if err := json.Unmarshal(data, &t.encoder); err != nil {
		return fmt.Errorf("tokenizer: parsing %s (want a JSON object of token to id): %w", vocabPath, err)
	}
	data, err = os.ReadFile(mergesPath)
	if err != nil {
		return fmt.Errorf("tokenizer: reading CLIP merges: %w", err)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("tokenizer: %s is not UTF-8", mergesPath)
	}
	merges, err := parseMerges(strings.Split(strings.TrimSpace(string(data)), "\n"), mergesPath)
	if err != nil {
		return err
	}
	t.setRanks(merges)
	return t.checkHF(merges, vocabPath)
}

// loadTokenizerJSON reads the BPE model of a Hugging Face tokenizer.json (every merge it lists is used).
func (t *CLIP) loadTokenizerJSON(path string) error {
	var tj hfTokenizerJSON
	if _, err := readJSON(path, &tj); err != nil {
		return err
	}
	if tj.Model.Type != "BPE" {
		return fmt.Errorf("tokenizer: %s: model type %q is not BPE", path, tj.Model.Type)
	}
	if s := tj.Model.EndOfWordSuffix; s == nil || *s != "</w>" {
		return fmt.Errorf("tokenizer: %s: the BPE model's end_of_word_suffix is not \"</w>\": not a CLIP vocabulary", path)
	}
	t.encoder = tj.Model.Vocab
	for _, a := range tj.AddedTokens {
		if _, ok := t.encoder[a.Content]; !ok {
			t.encoder[a.Content] = a.ID
		}
	}
	merges, err := jsonMerges(tj.Model.Merges, path)
	if err != nil {
		return err
	}
	t.setRanks(merges)
	return t.checkHF(merges, path)
}

// jsonMerges reads tokenizer.json merges, either "a b" strings or ["a", "b"] pairs.
func jsonMerges(raw json.RawMessage, path string) ([]bpePair, error) {
	var merges []bpePair
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		for i, s := range strs {
			fields := strings.Split(s, " ")
			if len(fields) != 2 || fields[0] == "" || fields[1] == "" {
				return nil, fmt.Errorf("tokenizer: %s: merge %d %q is malformed (want two symbols separated by a space)", path, i, s)
			}
			merges = append(merges, bpePair{fields[0], fields[1]})
		}
		return merges, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: model.merges is neither a list of strings nor a list of pairs: %w", path, err)
	}
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("tokenizer: %s: merge %d has %d symbols, want 2", path, i, len(p))
		}
		merges = append(merges, bpePair{p[0], p[1]})
	}
	return merges, nil
}

// checkHF checks that a Hugging Face vocabulary holds every symbol BPE can produce and the special tokens.
func (t *CLIP) checkHF(merges []bpePair, path string) error {
	for _, s := range t.byteSyms {
		for _, sym := range []string{s, s + "</w>"} {
			if _, ok := t.encoder[sym]; !ok {
				return fmt.Errorf("tokenizer: %s lacks the byte symbol %q: not a byte-level CLIP vocabulary", path, sym)
			}
		}
	}
	for i, m := range merges {
		if _, ok := t.encoder[m.a+m.b]; !ok {
			return fmt.Errorf("tokenizer: %s lacks %q, the result of merge %d (%q %q)", path, m.a+m.b, i, m.a, m.b)
		}
	}
	t.specials = [2]string{"<|startoftext|>", "<|endoftext|>"}
	if _, ok := t.encoder[t.specials[0]]; !ok {
		t.specials = [2]string{"<start_of_text>", "<end_of_text>"}
	}
	return t.setSpecials(path)
}

func (t *CLIP) setRanks(merges []bpePair) {
	t.ranks = make(map[bpePair]int, len(merges))
	for i, m := range merges { // a later duplicate wins, as in dict(zip(merges, range(len(merges))))
		t.ranks[m] = i
	}
}

func (t *CLIP) setSpecials(path string) error {
	var ok bool
	if t.sot, ok = t.encoder[t.specials[0]]; !ok {
		return fmt.Errorf("tokenizer: %s has no start-of-text token (%q)", path, t.specials[0])
	}
	if t.eot, ok = t.encoder[t.specials[1]]; !ok {
		return fmt.Errorf("tokenizer: %s has no end-of-text token (%q)", path, t.specials[1])
	}
	return nil
}

// bytesToUnicode is CLIP's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for the
// code points from U+0100 on, in byte order.
func bytesToUnicode() [256]string {
	var syms [256]string
	for i, b := range byteOrder() {
		if printableByte(b) {
			syms[b] = string(rune(b))
		} else {
			syms[b] = string(rune(256 + i - printableBytes))
		}
	}
	return syms
}

// printableBytes is the number of bytes bytes_to_unicode maps to themselves.
const printableBytes = ('~' - '!' + 1) + (0xac - 0xa1 + 1) + (0xff - 0xae + 1)

func printableByte(b byte) bool {
	return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae)
}

// byteOrder is the order of bytes_to_unicode's dictionary, which is the order of the first 256 vocabulary entries:
// the printable bytes, then the others, each in increasing order.
func byteOrder() []byte {
	order := make([]byte, 0, 256)
	for _, printable := range []bool{true, false} {
		for b := 0; b < 256; b++ {
			if printableByte(byte(b)) == printable {
				order = append(order, byte(b))
			}
		}
	}
	return order
}

// Name returns "clip-bpe".
func (t *CLIP) Name() string { return "clip-bpe" }

// ContextLength returns the row length Encode produces.
func (t *CLIP) ContextLength() int { return t.ctx }

// PadID returns 0, the id open_clip pads with.
func (t *CLIP) PadID() int64 { return 0 }

// Encode returns the ids open_clip's SimpleTokenizer feeds the model for text: the "lower" cleaning, the CLIP
// regex, BPE, start and end of text, cut to ContextLength with the end-of-text id last, padded with 0.
func (t *CLIP) Encode(text string) []int64 {
	return pad(t.Tokens(text), t.ctx, 0)
}

// Tokens returns the ids of Encode before padding.
func (t *CLIP) Tokens(text string) []int64 {
	ids := []int64{t.sot}
	for _, word := range t.split(cleanLower(text)) {
		ids = append(ids, t.wordIDs(word)...)
	}
	ids = append(ids, t.eot)
	if len(ids) > t.ctx {
		ids = ids[:t.ctx]
		ids[t.ctx-1] = t.eot
	}
	return ids
}

// split is re.findall of open_clip's pattern (regex module, IGNORECASE):
//
//	<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// At each position the first alternative that matches wins; a character no alternative matches is skipped.
func (t *CLIP) split(s string) []string {
	var words []string
	for i := 0; i < len(s); {
		n := t.matchAt(s[i:])
		if n == 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		words = append(words, s[i:i+n])
		i += n
	}
	return words
}

// matchAt returns the length of the pattern's match at the start of s, or 0.
func (t *CLIP) matchAt(s string) int {
	for _, lit := range t.specials {
		if n := foldPrefix(s, lit); n > 0 {
			return n
		}
	}
	if s[0] == '\'' {
		for _, lit := range []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
			if n := foldPrefix(s, lit); n > 0 {
				return n
			}
		}
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case unicode.IsLetter(r):
		return runLength(s, unicode.IsLetter)
	case unicode.IsNumber(r):
		return size
	case isCLIPOther(r):
		return runLength(s, isCLIPOther)
	}
	return 0
}

// isCLIPOther is [^\s\p{L}\p{N}] under IGNORECASE: not whitespace, and no case variant of r is a letter or a
// number (the regex module matches a negated class case-insensitively, so U+0345, whose variants include ι, is
// excluded; [\p{L}] itself is not widened).
func isCLIPOther(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	for f := r; ; {
		if unicode.IsLetter(f) || unicode.IsNumber(f) {
			return false
		}
		if f = unicode.SimpleFold(f); f == r {
			return true
		}
	}
}

// runLength returns the byte length of the leading run of runes of s for which in holds.
func runLength(s string, in func(rune) bool) int {
	for i, r := range s {
		if !in(r) {
			return i
		}
	}
	return len(s)
}

// foldPrefix returns the byte length of the prefix of s that equals lit under simple case folding (the regex
// module's IGNORECASE, so "ſ" matches "s"), or 0.
func foldPrefix(s, lit string) int {
	n := 0
	for _, want := range lit {
		if n >= len(s) {
			return 0
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !equalFold(r, want) {
			return 0
		}
		n += size
	}
	return n
}

// equalFold reports whether a and b are in the same simple case-folding orbit.
func equalFold(a, b rune) bool {
	for f := a; ; {
		if f == b {
			return true
		}
		if f = unicode.SimpleFold(f); f == a {
			return false
		}
	}
}

// wordIDs returns the ids of one regex match: the special token's id when it is one exactly, else the BPE of its
// UTF-8 bytes.
func (t *CLIP) wordIDs(word string) []int64 {
	switch word {
	case t.specials[0]:
		return []int64{t.sot}
	case t.specials[1]:
		return []int64{t.eot}
	}
	var b strings.Builder
	for i := 0; i < len(word); i++ {
		b.WriteString(t.byteSyms[word[i]])
	}
	key := b.String()
	t.mu.Lock()
	ids, ok := t.cache[key]
	t.mu.Unlock()
	if ok {
		return ids
	}
	ids = t.bpe(word)
	t.mu.Lock()
	if len(t.cache) >= cacheLimit {
		clear(t.cache)
	}
	t.cache[key] = ids
	t.mu.Unlock()
	return ids
}

// bpe applies the merges to the byte symbols of word, "</w>" joined to the last one: repeatedly the adjacent pair
// with the lowest merge rank is merged wherever it occurs, left to right, until no pair has a rank.
func (t *CLIP) bpe(word string) []int64 {
	syms := make([]string, len(word))
	for i := 0; i < len(word); i++ {
		syms[i] = t.byteSyms[word[i]]
	}
	syms[len(syms)-1] += "</w>"
	for len(syms) > 1 {
		best, bestRank := bpePair{}, -1
		for i := 0; i+1 < len(syms); i++ {
			p := bpePair{syms[i], syms[i+1]}
			if r, ok := t.ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		merged := syms[:0:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == best.a && syms[i+1] == best.b {
				merged = append(merged, best.a+best.b)
				i++
				continue
			}
			merged = append(merged, syms[i])
		}
		syms = merged
	}
	ids := make([]int64, len(syms))
	for i, s := range syms {
		ids[i] = t.encoder[s] // every symbol is a byte symbol or a merge result, all in the vocabulary
	}
	return ids
}
