package tokenizer

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/internal/sharedtest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// tokensJSON is fixtures/tiny-a/reference/tokens.json (made by make_fixtures.py, step "tokens").
type tokensJSON struct {
	Texts    []string  `json:"texts"`
	BertFast [][]int64 `json:"bert_fast"` // transformers BertTokenizer(text, max_length=256, truncation=True), no cleaning
	CLIP     [][]int64 `json:"clip"`      // open_clip SimpleTokenizer()(texts, context_length=77)
}

func loadTokensJSON(t *testing.T) tokensJSON {
	t.Helper()
	data, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "tokens.json"))
	require.NoError(t, err)
	var tj tokensJSON
	require.NoError(t, json.Unmarshal(data, &tj))
	require.Len(t, tj.Texts, 108)
	require.Len(t, tj.BertFast, 108)
	require.Len(t, tj.CLIP, 108)
	return tj
}

func fixtureBERT(t testing.TB) *BERT {
	t.Helper()
	tok, err := NewBERT(sharedtest.Path(t, "fixtures", "tiny-a", "biomedclip"), 256)
	require.NoError(t, err)
	return tok
}

func fixtureCLIP(t testing.TB) *CLIP {
	t.Helper()
	tok, err := NewCLIP(sharedtest.Path(t, "vocab", "bpe_simple_vocab_16e6.txt.gz"), 77)
	require.NoError(t, err)
	return tok
}

// referenceTexts returns the 48 texts of reference.json.
func referenceTexts(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.json"))
	require.NoError(t, err)
	var ref struct {
		Texts []string `json:"texts"`
	}
	require.NoError(t, json.Unmarshal(data, &ref))
	require.Len(t, ref.Texts, 48)
	return ref.Texts
}

func TestBERTMatchesTokensJSON(t *testing.T) {
	tj := loadTokensJSON(t)
	tok := fixtureBERT(t)
	for i, text := range tj.Texts {
		assert.Equal(t, tj.BertFast[i], tok.EncodeRaw(text), "text %d %q", i, text)
	}
}

func TestCLIPMatchesTokensJSON(t *testing.T) {
	tj := loadTokensJSON(t)
	tok := fixtureCLIP(t)
	for i, text := range tj.Texts {
		assert.Equal(t, tj.CLIP[i], tok.Encode(text), "text %d %q", i, text)
	}
}

// The padded ids open_clip fed the two text towers for the 48 reference texts (reference.npz).
func TestEncodeBatchMatchesReferenceNPZ(t *testing.T) {
	arrays, err := npy.ReadNPZ(sharedtest.Path(t, "fixtures", "tiny-a", "reference", "reference.npz"))
	require.NoError(t, err)
	texts := referenceTexts(t)
	for _, tc := range []struct {
		key string
		tok Tokenizer
		ctx int
	}{
		{"biomedclip_token_ids", fixtureBERT(t), 256},
		{"clip_token_ids", fixtureCLIP(t), 77},
	} {
		t.Run(tc.key, func(t *testing.T) {
			want := arrays[tc.key]
			require.NotNil(t, want, "reference.npz lacks %s", tc.key)
			require.Equal(t, []int{48, tc.ctx}, want.Shape)
			got := EncodeBatch(tc.tok, texts)
			require.Len(t, got, 48*tc.ctx)
			for i := range texts {
				assert.Equal(t, want.Int64[i*tc.ctx:(i+1)*tc.ctx], got[i*tc.ctx:(i+1)*tc.ctx], "text %d %q", i, texts[i])
			}
		})
	}
}
