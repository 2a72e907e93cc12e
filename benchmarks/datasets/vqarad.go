package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// VQARADFile is the name of the VQA-RAD release file inside the data set's root folder; images lie in images/.
const VQARADFile = "VQA_RAD_Dataset_Public.json"

// VQA-RAD splits: the official test split is the rows whose phrase_type is test_freeform or test_para (451
// questions), the training split the rows whose phrase_type is freeform or para.
const (
	SplitTest  = "test"
	SplitTrain = "train"
	// SplitValidate is SLAKE's validation split (validate.json); VQA-RAD has none.
	SplitValidate = "validate"
)

// splitOf returns the split of a phrase_type of the release ("" for an unknown one).
func splitOf(phraseType string) string {
	switch phraseType {
	case "freeform", "para":
		return SplitTrain
	case "test_freeform", "test_para":
		return SplitTest
	}
	return ""
}

// VQARADRow is one question of the VQA-RAD release, or of the SLAKE release (see ReadSLAKE).
type VQARADRow struct {
	// QID is the question id (a string or a number in the release).
	QID string
	// ImageName is the image's file name (image_name; SLAKE: img_name, a path below imgs/).
	ImageName string
	// Image is the image's absolute path (root/images/ImageName; SLAKE: root/imgs/ImageName).
	Image string
	// Images is the folder the image lies in (root/images; SLAKE: root/imgs), which it must not leave.
	Images string
	// Question is the question text.
	Question string
	// Answer is the answer as the release writes it; numeric answers (e.g. 4) as their JSON text.
	Answer string
	// Closed is whether answer_type is CLOSED (trailing spaces ignored); otherwise it is OPEN.
	Closed bool
	// Split is SplitTest or SplitTrain, from phrase_type (SLAKE: from the file; SplitValidate too).
	Split string
	// fields holds every field of the row, for Field.
	fields map[string]json.RawMessage
}

// ImageFile is the row's image, read inside its images folder (see RootedImage).
func (r *VQARADRow) ImageFile() Image { return RootedImage(r.Images, r.Image) }

// Field returns a string or numeric field of the row by its JSON name (e.g. image_organ).
func (r *VQARADRow) Field(name string) (string, error) {
	raw, ok := r.fields[name]
	if !ok {
		return "", fmt.Errorf("question %s has no field %q", r.QID, name)
	}
	return scalar(name, raw)
}

// scalar decodes a JSON string or number as a string (a number as written in the file).
func scalar(name string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("field %q is %s, not a string or number", name, raw)
}

// ReadVQARAD reads every row of root/VQA_RAD_Dataset_Public.json and checks that the images the rows name exist
// in root/images. Errors name the file and the row (0-based, with its qid). Under sp's SkipBadImages, a row whose
// image is missing (or a link out of images/) is left out and the image recorded in sp instead.
func ReadVQARAD(root string, sp *Spool) ([]VQARADRow, error) {
	path := filepath.Join(root, VQARADFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading VQA-RAD: %w (the root folder must hold %s and images/)", err, VQARADFile)
	}
	rows, err := readQuestions(path, filepath.Join(root, "images"), "image_name", sp, func(r *VQARADRow) (bool, error) {
		phrase, err := r.Field("phrase_type")
		if err != nil {
			return false, err
		}
		if r.Split = splitOf(phrase); r.Split == "" {
			return false, fmt.Errorf("phrase_type %q is not freeform, para, test_freeform or test_para", phrase)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return rows, sp.noneLeft(len(rows), path)
}

// maxQuestionFile is the largest question file (VQA-RAD's release, a SLAKE split) read (256 MiB; VQA-RAD's is
// about 1 MB).
const maxQuestionFile = 256 << 20

// readQuestions reads a JSON array of question objects from path: each row's common fields (see fill, the image
// name in imageField), then keep, which checks the row's own fields and says whether to keep it. The images of the
// rows kept must exist in the folder images (under sp's SkipBadImages, a row whose image does not is left out and
// the image recorded); no two rows may share a qid. Errors name the file and the row (0-based, with its qid).
func readQuestions(path, images, imageField string, sp *Spool, keep func(r *VQARADRow) (bool, error)) ([]VQARADRow, error) {
	b, err := sdk.ReadFileAtMost(path, maxQuestionFile)
	if err != nil {
		return nil, fmt.Errorf("reading questions: %w", err)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of question objects: %w", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s holds no questions", path)
	}
	var rows []VQARADRow
	checked := map[string]bool{} // image name: usable
	qids := map[string]int{}
	for i, fields := range raw {
		var r VQARADRow
		if err := r.fill(fields, imageField); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i, err)
		}
		if j, ok := qids[r.QID]; ok {
			return nil, fmt.Errorf("%s: rows %d and %d have the same qid %s; every question needs its own qid (answers are matched by it)", path, j, i, r.QID)
		}
		qids[r.QID] = i
		ok, err := keep(&r)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: qid %s: %w", path, i, r.QID, err)
		}
		if !ok {
			continue
		}
		r.Image, r.Images = filepath.Join(images, r.ImageName), images
		usable, ok := checked[r.ImageName]
		if !ok {
			_, err := ResolveImage(images, r.ImageName)
			if err != nil {
				err = sp.bad(r.Image, err)
			}
			if err != nil && !errors.Is(err, errSkipped) {
				return nil, fmt.Errorf("%s: row %d (qid %s): %w", path, i, r.QID, err)
			}
			usable = err == nil
			checked[r.ImageName] = usable
		}
		if usable {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// fill decodes and checks the fields of one row common to VQA-RAD and SLAKE: qid, the image name (in field
// imageField), question, answer and answer_type.
func (r *VQARADRow) fill(fields map[string]json.RawMessage, imageField string) error {
	r.fields = fields
	var err error
	if r.QID, err = r.Field("qid"); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{imageField, &r.ImageName}, {"question", &r.Question}, {"answer", &r.Answer}} {
		if *f.dst, err = r.Field(f.name); err != nil {
			return fmt.Errorf("qid %s: %w", r.QID, err)
		}
		if strings.TrimSpace(*f.dst) == "" {
			return fmt.Errorf("qid %s: field %q is empty", r.QID, f.name)
		}
	}
	kind, err := r.Field("answer_type")
	if err != nil {
		return fmt.Errorf("qid %s: %w", r.QID, err)
	}
	switch strings.TrimSpace(kind) {
	case "CLOSED":
		r.Closed = true
	case "OPEN":
	default:
		return fmt.Errorf("qid %s: answer_type %q is neither CLOSED nor OPEN", r.QID, kind)
	}
	return nil
}

// VQARADSplit returns the rows of one split (SplitTest or SplitTrain), in file order.
func VQARADSplit(rows []VQARADRow, split string) ([]VQARADRow, error) {
	if split != SplitTest && split != SplitTrain {
		return nil, fmt.Errorf("VQA-RAD split %q is not %q or %q", split, SplitTest, SplitTrain)
	}
	var out []VQARADRow
	for _, r := range rows {
		if r.Split == split {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("VQA-RAD split %q has no questions", split)
	}
	return out, nil
}
