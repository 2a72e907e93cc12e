package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Key names one input by its content: the sha256 of a domain tag and the input's bytes (ImageKey, TextKey).
type Key [32]byte

// String returns the key as 64 hex digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Domain tags keep an image and a text with the same bytes apart.
const (
	imageDomain = "image\x00"
	textDomain  = "text\x00"
)

// ImageKey returns the key of an image from its encoded bytes (the file's content, not its name): the same picture
// under two paths is one entry, and an edited file under the same path is a new one.
func ImageKey(content []byte) Key {
	h := sha256.New()
	h.Write([]byte(imageDomain))
	h.Write(content)
	return sum(h)
}

// ImageKeyReader returns ImageKey of everything r yields, without holding it in memory (large DICOM files, tar
// members read through an io.SectionReader).
func ImageKeyReader(r io.Reader) (Key, error) {
	h := sha256.New()
	h.Write([]byte(imageDomain))
	if _, err := io.Copy(h, r); err != nil {
		return Key{}, fmt.Errorf("hashing an image for the embedding store: %w", err)
	}
	return sum(h), nil
}

// TextKey returns the key of a text: its exact bytes, before any tokenization.
func TextKey(text string) Key {
	h := sha256.New()
	h.Write([]byte(textDomain))
	h.Write([]byte(text))
	return sum(h)
}

func sum(h hash.Hash) Key {
	var k Key
	h.Sum(k[:0])
	return k
}

// Fingerprint is everything that decides what a model's embeddings are: two models with equal fingerprints must
// encode every input to the same vector. It deliberately leaves out the model's name and folder, so a copied or
// renamed export keeps its entries.
type Fingerprint struct {
	// Backend and BackendVersion name the backend plugin and its version (sdk.PluginInfo.Name, .Version).
	Backend, BackendVersion string
	// Runtime names the inference runtime and its version (sdk.ModelInfo.Runtime).
	Runtime string
	// Files maps each model file the backend read to its sha256 hex digest (sdk.ModelInfo.Files): the ONNX towers
	// and the preprocessing and tokenizer configuration.
	Files map[string]string
	// Options are the backend options the model was loaded with (the config's model options), less those its
	// plugin declares KeepsEmbeddings.
	Options map[string]string
	// ImageSize and ContextLength are the towers' input shapes (sdk.ModelInfo).
	ImageSize, ContextLength int
	// Tokenizer names the tokenizer in use (sdk.ModelInfo.Tokenizer).
	Tokenizer string
}

// FingerprintOf returns the fingerprint of a model loaded by the backend plugin (described by plugin) with options.
// Options the plugin declares KeepsEmbeddings (thread counts, the logit scale) are left out: changing one keeps
// the stored embeddings.
func FingerprintOf(plugin sdk.PluginInfo, options map[string]string, info sdk.ModelInfo) Fingerprint {
	kept := map[string]string{}
	for k, v := range options {
		if i := slices.IndexFunc(plugin.OptionFields, func(f sdk.Field) bool { return f.Name == k }); i < 0 || !plugin.OptionFields[i].KeepsEmbeddings {
			kept[k] = v
		}
	}
	return Fingerprint{
		Backend: plugin.Name, BackendVersion: plugin.Version, Runtime: info.Runtime,
		Files: info.Files, Options: kept,
		ImageSize: info.ImageSize, ContextLength: info.ContextLength, Tokenizer: info.Tokenizer,
	}
}

// fingerprintVersion starts the canonical encoding; changing the encoding changes it, so that old and new
// fingerprints can never be equal.
const fingerprintVersion = "clipeval model fingerprint v1"

// ModelFingerprint returns the store's name for a model: 64 hex digits of the sha256 of a canonical encoding of f
// (every field in a fixed order, each string length-prefixed, the maps sorted by key), so that it does not depend
// on map order and no two different fingerprints encode alike.
func ModelFingerprint(f Fingerprint) string {
	h := sha256.New()
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	num := func(v int) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutVarint(n[:], int64(v))])
	}
	dict := func(m map[string]string) {
		num(len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			str(k)
			str(m[k])
		}
	}
	str(fingerprintVersion)
	str(f.Backend)
	str(f.BackendVersion)
	str(f.Runtime)
	dict(f.Files)
	dict(f.Options)
	num(f.ImageSize)
	num(f.ContextLength)
	str(f.Tokenizer)
	return hex.EncodeToString(h.Sum(nil))
}
