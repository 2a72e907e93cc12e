package imageprep

import (
	"encoding/json"
	"fmt"
)

// This file is clipeval's one reader of the image half of open_clip_config.json. It accepts exactly what
// open_clip (src/open_clip: factory.py create_model, transform.py PreprocessCfg and image_transform) accepts,
// resolves it the way image_transform(is_train=False) does (evalTransform), and then says which of those eval
// transforms this package reproduces (evalTransform.config).
//
// Where the values come from in open_clip:
//   - The input size is model_cfg.vision_cfg.image_size (CLIPVisionCfg, default 224): create_model overwrites
//     preprocess_cfg's size with the vision tower's image_size, so preprocess_cfg.size never counts. An int n
//     means n×n; a list is [h, w].
//   - preprocess_cfg is merged over PreprocessCfg's defaults keeping only its fields (size, mode, mean, std,
//     interpolation, resize_mode, fill_color) whose value is not null (merge_preprocess_dict); other keys are
//     ignored. PreprocessCfg asserts mode == "RGB".
//   - image_transform then takes `mean or OPENAI_DATASET_MEAN` (so a false-y mean, 0 or [], is the default too,
//     and likewise std), repeats a scalar mean or std three times, and hands the lists to torchvision Normalize,
//     which broadcasts a one-element list over the channels and refuses a zero std.
//   - `interpolation or "bicubic"` must be bicubic, bilinear or random; the eval Resize uses BILINEAR for
//     bilinear and BICUBIC otherwise ("random is ignored for interpolation_mode, so defaults to BICUBIC for
//     inference").
//   - `resize_mode or "shortest"` must be shortest, longest or squash. shortest at a square size is
//     Resize(size) of the shorter side then CenterCrop; at a non-square size it is ResizeKeepRatio(size), whose
//     interpolation is always BICUBIC, then CenterCrop. longest is ResizeKeepRatio(size, longest=1) then
//     CenterCropOrPad(size, fill=fill_color); squash is Resize((h, w)) with no crop.

// Interpolation is the resampling filter of open_clip's eval resize.
type Interpolation string

// The filters open_clip's eval transform resizes with (transform.py image_transform: BILINEAR for "bilinear",
// BICUBIC for "bicubic" and "random").
const (
	Bicubic  Interpolation = "bicubic"
	Bilinear Interpolation = "bilinear"
)

// ResizeMode is how open_clip's eval transform fits an image to the input size (PreprocessCfg.resize_mode).
type ResizeMode string

// The resize modes open_clip accepts (transform.py image_transform).
const (
	// ResizeShortest resizes the shorter side to the input size and centre-crops (open_clip's default).
	ResizeShortest ResizeMode = "shortest"
	// ResizeLongest resizes the longer side to the input size, keeping the aspect ratio, and pads with the fill
	// colour.
	ResizeLongest ResizeMode = "longest"
	// ResizeSquash resizes to exactly the input size, ignoring the aspect ratio.
	ResizeSquash ResizeMode = "squash"
)

// evalTransform is open_clip's eval image transform as an open_clip_config.json configures it, resolved as
// image_transform(is_train=False) resolves it.
type evalTransform struct {
	// height and width are the input size (vision_cfg.image_size).
	height, width int
	// mean and std are Normalize's per-channel values, as float32 (torchvision converts them to the tensor's
	// dtype).
	mean, std [3]float32
	// filter is the interpolation the eval resize really uses ("random" resolved to bicubic, and bicubic for
	// shortest at a non-square size, whatever the config says).
	filter Interpolation
	// mode is resize_mode; fill is fill_color (as JSON), which only longest uses (to pad).
	mode ResizeMode
	fill string
}

// openAIMean and openAIStd are open_clip's OPENAI_DATASET_MEAN and OPENAI_DATASET_STD (constants.py), its
// defaults when a config names none.
var (
	openAIMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	openAIStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// defaultImageSize is CLIPVisionCfg.image_size's default (model.py).
const defaultImageSize = 224

// parseOpenCLIP reads the image half of an open_clip_config.json, accepting exactly what open_clip accepts (see
// the top of this file).
func parseOpenCLIP(data []byte) (evalTransform, error) {
	var raw struct {
		ModelCfg struct {
			VisionCfg struct {
				ImageSize json.RawMessage `json:"image_size"`
			} `json:"vision_cfg"`
		} `json:"model_cfg"`
		PreprocessCfg struct {
			Mode          any `json:"mode"`
			Mean          any `json:"mean"`
			Std           any `json:"std"`
			Interpolation any `json:"interpolation"`
			ResizeMode    any `json:"resize_mode"`
			FillColor     any `json:"fill_color"`
		} `json:"preprocess_cfg"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return evalTransform{}, fmt.Errorf("imageprep: parsing open_clip_config.json: %w", err)
	}
	pp := raw.PreprocessCfg
	t := evalTransform{filter: Bicubic, mode: ResizeShortest, fill: "0"}
	var err error
	if t.height, t.width, err = imageSize(raw.ModelCfg.VisionCfg.ImageSize); err != nil {
		return evalTransform{}, err
	}
	if pp.Mode != nil && pp.Mode != "RGB" {
		return evalTransform{}, fmt.Errorf("imageprep: preprocess_cfg.mode %s: open_clip accepts only \"RGB\"", jsonText(pp.Mode))
	}
	if t.mean, err = channels(pp.Mean, openAIMean, "mean"); err != nil {
		return evalTransform{}, err
	}
	if t.std, err = channels(pp.Std, openAIStd, "std"); err != nil {
		return evalTransform{}, err
	}
	for ch, s := range t.std {
		if s == 0 {
			return evalTransform{}, fmt.Errorf("imageprep: preprocess_cfg.std[%d] is 0; torchvision's Normalize refuses a zero std", ch)
		}
	}
	switch v, _ := pp.Interpolation.(string); {
	case falsy(pp.Interpolation), v == "bicubic", v == "random":
	case v == "bilinear":
		t.filter = Bilinear
	default:
		return evalTransform{}, fmt.Errorf("imageprep: preprocess_cfg.interpolation %s: open_clip accepts bicubic, bilinear or random",
			jsonText(pp.Interpolation))
	}
	switch v, _ := pp.ResizeMode.(string); {
	case falsy(pp.ResizeMode), v == string(ResizeShortest):
		if t.height != t.width {
			t.filter = Bicubic // ResizeKeepRatio(image_size) is built without the interpolation
		}
	case v == string(ResizeLongest), v == string(ResizeSquash):
		t.mode = ResizeMode(v)
	default:
		return evalTransform{}, fmt.Errorf("imageprep: preprocess_cfg.resize_mode %s: open_clip accepts shortest, longest or squash",
			jsonText(pp.ResizeMode))
	}
	if pp.FillColor != nil {
		t.fill = jsonText(pp.FillColor)
	}
	return t, nil
}

// imageSize parses vision_cfg.image_size: absent → 224, an int n → n×n, [h, w] → h×w; every side positive.
func imageSize(raw json.RawMessage) (h, w int, err error) {
	if len(raw) == 0 {
		return defaultImageSize, defaultImageSize, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil && n > 0 {
		return n, n, nil
	}
	var hw []int
	if json.Unmarshal(raw, &hw) == nil && len(hw) == 2 && hw[0] > 0 && hw[1] > 0 {
		return hw[0], hw[1], nil
	}
	return 0, 0, fmt.Errorf("imageprep: model_cfg.vision_cfg.image_size %s: want a positive integer or [height, width]", raw)
}

// channels resolves a preprocess_cfg mean or std as image_transform and Normalize do: null or false-y (0, [],
// "", false) → def; a number → that number for every channel; a list of one number → broadcast over the
// channels; a list of three numbers → one per channel. Booleans count as 0 and 1, as torch.as_tensor converts
// them.
func channels(v any, def [3]float32, name string) ([3]float32, error) {
	if falsy(v) {
		return def, nil
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	if len(list) != 1 && len(list) != 3 {
		return def, fmt.Errorf("imageprep: preprocess_cfg.%s %s: want a number or a list of 1 or 3 numbers (one per RGB channel)", name, jsonText(v))
	}
	var out [3]float32
	for ch := range out {
		x, ok := list[ch%len(list)].(float64)
		if b, isBool := list[ch%len(list)].(bool); isBool {
			x, ok = 0, true
			if b {
				x = 1
			}
		}
		if !ok {
			return def, fmt.Errorf("imageprep: preprocess_cfg.%s %s: want a number or a list of 1 or 3 numbers (one per RGB channel)", name, jsonText(v))
		}
		out[ch] = float32(x)
	}
	return out, nil
}

// falsy reports whether a decoded JSON value is false in Python (None, False, 0, "", []), so that open_clip's
// `value or default` takes the default.
func falsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// jsonText renders a decoded JSON value for a message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// config returns the Config of the eval transforms this package reproduces bit-exactly: shortest-side bicubic
// resize and centre crop to a square. For the others, which open_clip accepts but Config cannot express, it
// returns an error saying what open_clip would do.
func (t evalTransform) config() (Config, error) {
	switch {
	case t.height != t.width:
		return Config{}, fmt.Errorf("imageprep: vision_cfg.image_size [%d, %d]: open_clip's eval transform resizes the shorter side "+
			"keeping the aspect ratio and crops to %dx%d (h×w); clipeval reproduces square inputs only", t.height, t.width, t.height, t.width)
	case t.mode == ResizeLongest:
		return Config{}, fmt.Errorf("imageprep: preprocess_cfg.resize_mode longest: open_clip's eval transform resizes the longer side "+
			"to %d and pads with fill_color %s; clipeval reproduces resize_mode shortest only", t.height, t.fill)
	case t.mode == ResizeSquash:
		return Config{}, fmt.Errorf("imageprep: preprocess_cfg.resize_mode squash: open_clip's eval transform resizes to exactly %dx%d "+
			"without cropping; clipeval reproduces resize_mode shortest only", t.height, t.width)
	case t.filter != Bicubic:
		return Config{}, fmt.Errorf("imageprep: preprocess_cfg.interpolation %s: open_clip's eval transform resizes with Pillow's %s filter; "+
			"clipeval reproduces bicubic (also what \"random\" means at eval time) only", t.filter, t.filter)
	}
	c := Config{Size: t.height, Mean: t.mean, Std: t.std}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ConfigFromOpenCLIP reads the eval image transform of a model from its open_clip_config.json: everything
// open_clip accepts is accepted (see parseOpenCLIP), and the eval transforms this package reproduces are returned
// as a Config; the others (a non-square image_size, resize_mode longest or squash, bilinear interpolation) are
// refused with an error that says what open_clip would do.
func ConfigFromOpenCLIP(data []byte) (Config, error) {
	t, err := parseOpenCLIP(data)
	if err != nil {
		return Config{}, err
	}
	return t.config()
}
