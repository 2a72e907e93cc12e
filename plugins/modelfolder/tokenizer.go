package modelfolder

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipeval/clipeval/plugins/tokenizer"
)

// Tokenizer makes the folder's tokenizer: BERT WordPiece for a Hugging Face tokenizer, else CLIP BPE (the
// folder's BPE, else one found in the folder).
func (f *Folder) Tokenizer() (tokenizer.Tokenizer, error) {
	if f.HFTokenizer {
		tok, err := tokenizer.NewBERT(f.Dir, f.ContextLength)
		if err != nil {
			return nil, fmt.Errorf("model %s: bert tokenizer: %w", f.Dir, err)
		}
		return tok, nil
	}
	bpe := f.BPE
	if bpe == "" {
		var err error
		if bpe, err = findBPE(f.Dir); err != nil {
			return nil, fmt.Errorf("model %s: clip tokenizer: %w", f.Dir, err)
		}
	}
	tok, err := tokenizer.NewCLIP(bpe, f.ContextLength)
	if err != nil {
		return nil, fmt.Errorf("model %s: clip tokenizer: %w", f.Dir, err)
	}
	return tok, nil
}

// findBPE looks for a CLIP BPE vocabulary in the model folder.
func findBPE(dir string) (string, error) {
	for _, name := range []string{"bpe_simple_vocab_16e6.txt.gz", "vocab.json", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			if name == "vocab.json" {
				return dir, nil
			}
			return filepath.Join(dir, name), nil
		}
	}
	return "", fmt.Errorf("no BPE vocabulary in %s (looked for bpe_simple_vocab_16e6.txt.gz, vocab.json + merges.txt, tokenizer.json): "+
		"put one there or set the model option `bpe:` to bpe_simple_vocab_16e6.txt.gz", dir)
}
