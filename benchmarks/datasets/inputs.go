package datasets

import (
	"fmt"
	"sync"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// Inputs collects the distinct images and texts a dataset needs encoded, each once, in first-seen order, and
// hands out their row in the embedding matrices Score receives.
type Inputs struct {
	images, texts     []string
	imageRow, textRow map[string]int
	image             map[string]Image // by Label
}

// Image returns the embedding row of the image file at the absolute path p, adding it when new.
func (in *Inputs) Image(p string) int { return in.AddImage(FileImage(p)) }

// AddImage returns the embedding row of img, adding it when new; images are the same when their Label is.
func (in *Inputs) AddImage(img Image) int {
	if in.image == nil {
		in.image = map[string]Image{}
	}
	key := img.Label()
	if _, ok := in.image[key]; !ok {
		in.image[key] = img
	}
	return intern(&in.images, &in.imageRow, key)
}

// Text returns the embedding row of text s, adding it when new.
func (in *Inputs) Text(s string) int { return intern(&in.texts, &in.textRow, s) }

// intern returns the index of s in list, appending it when new.
func intern(list *[]string, index *map[string]int, s string) int {
	if *index == nil {
		*index = map[string]int{}
	}
	if i, ok := (*index)[s]; ok {
		return i
	}
	(*index)[s] = len(*list)
	*list = append(*list, s)
	return len(*list) - 1
}

// Dataset returns the sdk.Dataset for these inputs: the images by reference (never with their bytes), the texts,
// and as Files the data files given followed by the file of every image, each file once.
func (in *Inputs) Dataset(size int, description string, dataFiles ...string) *sdk.Dataset {
	d := &sdk.Dataset{Texts: in.texts, Size: size, Description: description}
	listed := map[string]bool{}
	list := func(f string) {
		if !listed[f] {
			listed[f] = true
			d.Files = append(d.Files, f)
		}
	}
	for _, f := range dataFiles {
		list(f)
	}
	for _, p := range in.images {
		img := in.image[p]
		d.Images = append(d.Images, img.ImageInput)
		list(img.File)
	}
	return d
}

// Store keeps what each Load prepared for Score, keyed by dataset ID; it is safe for concurrent use. The zero
// value is ready.
type Store[T any] struct {
	mu    sync.Mutex
	count int
	byID  map[string]*T
}

// Add keeps v under a new ID made from prefix and a sequence number, and returns the ID.
func (s *Store[T]) Add(prefix string, v *T) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]*T{}
	}
	s.count++
	id := fmt.Sprintf("%s-%d", prefix, s.count)
	s.byID[id] = v
	return id
}

// Get returns what was kept under id.
func (s *Store[T]) Get(id string) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("dataset %q was not loaded by this task plugin (call Load first and pass the ID it returns)", id)
	}
	return v, nil
}
