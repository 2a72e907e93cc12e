package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ReadImageFolder reads a classification data set laid out as torchvision's ImageFolder: dir holds one folder per
// class, named after the class, with the class's images in it or in folders below it. Classes come in sorted
// order of their folder names, images within a class in sorted path order (the order filepath.WalkDir visits).
// Images are files whose extension is that of an image format (.png, .jpg, .jpeg, .tif, .tiff, .bmp, .dcm, in any
// letter case); other files, and files directly in dir, are skipped. Symbolic links to folders below a class
// folder are not followed; images must stay inside dir (see ReadImage). Each item's Name is its path relative to
// dir, with slashes; its Label the class folder's name. A class folder without images is an error. DICOM
// renderings go to sp.
func ReadImageFolder(dir string, sp *Spool) ([]Labeled, error) {
	r, err := newRoot(dir, "the ImageFolder root")
	if err != nil {
		return nil, fmt.Errorf("reading ImageFolder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading ImageFolder: %w", err)
	}
	var out []Labeled
	for _, e := range entries {
		st, err := os.Stat(filepath.Join(dir, e.Name())) // follows a link to a class folder
		if err != nil {
			return nil, fmt.Errorf("ImageFolder %s: %w", dir, err)
		}
		if !st.IsDir() {
			continue
		}
		class := e.Name()
		before, skipped := len(out), 0
		// Walk the class folder's target (WalkDir does not follow a link it starts at); name images through dir.
		target, err := filepath.EvalSymlinks(filepath.Join(dir, class))
		if err != nil {
			return nil, fmt.Errorf("ImageFolder %s: %w", dir, err)
		}
		err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !isImageName(d.Name()) {
				return nil
			}
			below, err := filepath.Rel(target, p)
			if err != nil {
				return err
			}
			rel := filepath.Join(class, below)
			img, err := r.image(rel, sp)
			if errors.Is(err, errSkipped) {
				skipped++
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, Labeled{Name: filepath.ToSlash(rel), Image: img, Label: class})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("ImageFolder %s, class %q: %w", dir, class, err)
		}
		if len(out) == before && skipped == 0 { // a class whose every image is bad is listed with the skipped
			return nil, fmt.Errorf("ImageFolder %s: class folder %q holds no images (%s); add images or remove the folder",
				dir, class, imageExtensions)
		}
	}
	if err := sp.noneLeft(len(out), "ImageFolder "+dir); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ImageFolder %s holds no class folders; put each class's images in a folder named after it", dir)
	}
	return out, nil
}
