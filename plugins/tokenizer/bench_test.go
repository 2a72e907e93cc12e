package tokenizer

import "testing"

// benchmarkEncode reports how many of the 48 reference captions (reference.json) tok encodes per second.
// prepare runs before each pass over the captions.
func benchmarkEncode(b *testing.B, tok Tokenizer, prepare func()) {
	texts := referenceTexts(b)
	for b.Loop() {
		prepare()
		for _, s := range texts {
			tok.Encode(s)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "texts/s")
}

func BenchmarkBERTEncode(b *testing.B) {
	benchmarkEncode(b, fixtureBERT(b), func() {})
}

// BenchmarkCLIPEncode runs with the BPE cache warm (every word seen before), as when a caption set is encoded
// again or words repeat.
func BenchmarkCLIPEncode(b *testing.B) {
	benchmarkEncode(b, fixtureCLIP(b), func() {})
}

// BenchmarkCLIPEncodeColdCache empties the BPE cache before each pass over the captions.
func BenchmarkCLIPEncodeColdCache(b *testing.B) {
	tok := fixtureCLIP(b)
	benchmarkEncode(b, tok, func() {
		tok.mu.Lock()
		clear(tok.cache)
		tok.mu.Unlock()
	})
}
