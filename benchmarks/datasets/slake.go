package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// slakeFiles are SLAKE's question files in its root folder, by split; validate.json is optional.
func slakeFiles() []struct{ split, file string } {
	return []struct{ split, file string }{{SplitTrain, "train.json"}, {SplitValidate, "validate.json"}, {SplitTest, "test.json"}}
}

// ReadSLAKE reads the English questions of the SLAKE release (Liu et al. 2021, "SLAKE: a semantically-labeled
// knowledge-enhanced dataset for medical visual question answering"): root holds train.json, test.json and
// optionally validate.json (JSON arrays of question objects with qid, img_name, question, answer, answer_type
// OPEN or CLOSED, q_lang and more) and imgs/, the images by img_name. Only rows with q_lang "en" are kept, in file
// order, train first, then validate, then test; each row's Split is its file's. It returns the rows and the
// question files read. Errors name the file and the row (0-based, with its qid). Under sp's SkipBadImages, a row
// whose image is missing (or a link out of imgs/) is left out and the image recorded in sp instead.
func ReadSLAKE(root string, sp *Spool) ([]VQARADRow, []string, error) {
	var rows []VQARADRow
	var files []string
	for _, sf := range slakeFiles() {
		path := filepath.Join(root, sf.file)
		if _, err := os.Stat(path); err != nil {
			if sf.split == SplitValidate && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("reading SLAKE: %w (the root folder must hold train.json, test.json and imgs/)", err)
		}
		part, err := readQuestions(path, filepath.Join(root, "imgs"), "img_name", sp, func(r *VQARADRow) (bool, error) {
			lang, err := r.Field("q_lang")
			if err != nil {
				return false, err
			}
			r.Split = sf.split
			return strings.TrimSpace(lang) == "en", nil
		})
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, part...)
		files = append(files, path)
	}
	return rows, files, sp.noneLeft(len(rows), "SLAKE "+root)
}
