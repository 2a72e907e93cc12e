package imageprep

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAITransform is open_clip's default eval transform at the given size: shortest-side bicubic, OpenAI's
// normalisation.
func openAITransform(size int) evalTransform {
	return evalTransform{height: size, width: size, mean: openAIMean, std: openAIStd, filter: Bicubic, mode: ResizeShortest, fill: "0"}
}

// with returns t changed by edit.
func with(t evalTransform, edit func(*evalTransform)) evalTransform {
	edit(&t)
	return t
}

func TestParseOpenCLIP(t *testing.T) {
	def := openAITransform(224)
	tests := []struct {
		name, json string
		want       evalTransform
	}{
		{"defaults", `{}`, def},
		{"empty preprocess_cfg, null values", `{"model_cfg":{"vision_cfg":{}},"preprocess_cfg":{"mean":null,"std":null,"mode":null,` +
			`"interpolation":null,"resize_mode":null,"fill_color":null}}`, def},
		{"preprocess_cfg null", `{"preprocess_cfg":null}`, def},
		{"unknown keys ignored", `{"preprocess_cfg":{"crop_pct":0.9,"size":999}}`, def},
		{"int size", `{"model_cfg":{"vision_cfg":{"image_size":336}}}`, openAITransform(336)},
		{"square list size", `{"model_cfg":{"vision_cfg":{"image_size":[256,256]}}}`, openAITransform(256)},
		// Non-square shortest is ResizeKeepRatio(image_size), always bicubic.
		{"non-square, bilinear ignored", `{"model_cfg":{"vision_cfg":{"image_size":[224,320]}},"preprocess_cfg":{"interpolation":"bilinear"}}`,
			with(def, func(e *evalTransform) { e.width = 320 })},
		{"three-list mean and std", `{"preprocess_cfg":{"mean":[0.5,0.25,0],"std":[1,2,4]}}`,
			with(def, func(e *evalTransform) { e.mean, e.std = [3]float32{0.5, 0.25, 0}, [3]float32{1, 2, 4} })},
		{"scalar mean and std", `{"preprocess_cfg":{"mean":0.5,"std":0.25}}`,
			with(def, func(e *evalTransform) { e.mean, e.std = [3]float32{0.5, 0.5, 0.5}, [3]float32{0.25, 0.25, 0.25} })},
		{"one-element lists broadcast", `{"preprocess_cfg":{"mean":[0.5],"std":[0.25]}}`,
			with(def, func(e *evalTransform) { e.mean, e.std = [3]float32{0.5, 0.5, 0.5}, [3]float32{0.25, 0.25, 0.25} })},
		// `mean or OPENAI_DATASET_MEAN`: 0 and [] are false in Python, so they mean the default.
		{"zero scalar mean and std are the defaults", `{"preprocess_cfg":{"mean":0,"std":0}}`, def},
		{"empty lists are the defaults", `{"preprocess_cfg":{"mean":[],"std":[]}}`, def},
		{"booleans as 0 and 1", `{"preprocess_cfg":{"mean":[true,false,0.5],"std":true}}`,
			with(def, func(e *evalTransform) { e.mean, e.std = [3]float32{1, 0, 0.5}, [3]float32{1, 1, 1} })},
		{"bicubic, shortest, RGB named", `{"preprocess_cfg":{"interpolation":"bicubic","resize_mode":"shortest","mode":"RGB"}}`, def},
		{"random is bicubic at eval", `{"preprocess_cfg":{"interpolation":"random"}}`, def},
		{"empty interpolation and resize_mode are the defaults", `{"preprocess_cfg":{"interpolation":"","resize_mode":""}}`, def},
		{"bilinear", `{"preprocess_cfg":{"interpolation":"bilinear"}}`, with(def, func(e *evalTransform) { e.filter = Bilinear })},
		{"squash", `{"preprocess_cfg":{"resize_mode":"squash"}}`, with(def, func(e *evalTransform) { e.mode = ResizeSquash })},
		{"longest with fill", `{"preprocess_cfg":{"resize_mode":"longest","fill_color":255}}`,
			with(def, func(e *evalTransform) { e.mode, e.fill = ResizeLongest, "255" })},
		{"non-square bilinear squash keeps bilinear", `{"model_cfg":{"vision_cfg":{"image_size":[224,320]}},` +
			`"preprocess_cfg":{"interpolation":"bilinear","resize_mode":"squash"}}`,
			with(def, func(e *evalTransform) { e.width, e.filter, e.mode = 320, Bilinear, ResizeSquash })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOpenCLIP([]byte(tc.json))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseOpenCLIPErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not json", `{`, "imageprep: parsing open_clip_config.json: unexpected end of JSON input"},
		{"size zero", `{"model_cfg":{"vision_cfg":{"image_size":0}}}`,
			"imageprep: model_cfg.vision_cfg.image_size 0: want a positive integer or [height, width]"},
		{"size float", `{"model_cfg":{"vision_cfg":{"image_size":224.5}}}`,
			"imageprep: model_cfg.vision_cfg.image_size 224.5: want a positive integer or [height, width]"},
		{"size of three", `{"model_cfg":{"vision_cfg":{"image_size":[1,2,3]}}}`,
			"imageprep: model_cfg.vision_cfg.image_size [1,2,3]: want a positive integer or [height, width]"},
		{"size null", `{"model_cfg":{"vision_cfg":{"image_size":null}}}`,
			"imageprep: model_cfg.vision_cfg.image_size null: want a positive integer or [height, width]"},
		{"mode", `{"preprocess_cfg":{"mode":"L"}}`, `imageprep: preprocess_cfg.mode "L": open_clip accepts only "RGB"`},
		{"empty mode", `{"preprocess_cfg":{"mode":""}}`, `imageprep: preprocess_cfg.mode "": open_clip accepts only "RGB"`},
		{"two means", `{"preprocess_cfg":{"mean":[0.5,0.5]}}`,
			"imageprep: preprocess_cfg.mean [0.5,0.5]: want a number or a list of 1 or 3 numbers (one per RGB channel)"},
		{"string std", `{"preprocess_cfg":{"std":"0.5"}}`,
			`imageprep: preprocess_cfg.std "0.5": want a number or a list of 1 or 3 numbers (one per RGB channel)`},
		{"zero std entry", `{"preprocess_cfg":{"std":[1,0,1]}}`,
			"imageprep: preprocess_cfg.std[1] is 0; torchvision's Normalize refuses a zero std"},
		{"nearest", `{"preprocess_cfg":{"interpolation":"nearest"}}`,
			`imageprep: preprocess_cfg.interpolation "nearest": open_clip accepts bicubic, bilinear or random`},
		{"interpolation not a string", `{"preprocess_cfg":{"interpolation":3}}`,
			"imageprep: preprocess_cfg.interpolation 3: open_clip accepts bicubic, bilinear or random"},
		{"resize mode", `{"preprocess_cfg":{"resize_mode":"crop"}}`,
			`imageprep: preprocess_cfg.resize_mode "crop": open_clip accepts shortest, longest or squash`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOpenCLIP([]byte(tc.json))
			assert.EqualError(t, err, tc.want)
			_, err = ConfigFromOpenCLIP([]byte(tc.json))
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestConfigFromOpenCLIP(t *testing.T) {
	openai := Config{Size: 224, Mean: openAIMean, Std: openAIStd}
	tests := []struct {
		name, json string
		want       Config
		wantErr    string
	}{
		{"defaults", `{}`, openai, ""},
		{"size and lists", `{"model_cfg":{"vision_cfg":{"image_size":336}},"preprocess_cfg":{"mean":[0.5,0.25,0],"std":[1,2,4]}}`,
			Config{Size: 336, Mean: [3]float32{0.5, 0.25, 0}, Std: [3]float32{1, 2, 4}}, ""},
		{"scalar mean, square list size", `{"model_cfg":{"vision_cfg":{"image_size":[256,256]}},"preprocess_cfg":{"mean":0.5,"std":0.5}}`,
			Config{Size: 256, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}, ""},
		{"bicubic named", `{"preprocess_cfg":{"interpolation":"bicubic","resize_mode":"shortest","mode":"RGB"}}`, openai, ""},
		{"random is bicubic", `{"preprocess_cfg":{"interpolation":"random"}}`, openai, ""},
		{"bilinear", `{"preprocess_cfg":{"interpolation":"bilinear"}}`, Config{},
			`imageprep: preprocess_cfg.interpolation bilinear: open_clip's eval transform resizes with Pillow's bilinear filter; ` +
				`clipeval reproduces bicubic (also what "random" means at eval time) only`},
		{"squash", `{"preprocess_cfg":{"resize_mode":"squash"}}`, Config{},
			"imageprep: preprocess_cfg.resize_mode squash: open_clip's eval transform resizes to exactly 224x224 without cropping; " +
				"clipeval reproduces resize_mode shortest only"},
		{"longest", `{"preprocess_cfg":{"resize_mode":"longest","fill_color":7}}`, Config{},
			"imageprep: preprocess_cfg.resize_mode longest: open_clip's eval transform resizes the longer side to 224 and pads with " +
				"fill_color 7; clipeval reproduces resize_mode shortest only"},
		{"non-square", `{"model_cfg":{"vision_cfg":{"image_size":[224,320]}}}`, Config{},
			"imageprep: vision_cfg.image_size [224, 320]: open_clip's eval transform resizes the shorter side keeping the aspect ratio " +
				"and crops to 224x320 (h×w); clipeval reproduces square inputs only"},
		{"too large for this package", `{"model_cfg":{"vision_cfg":{"image_size":20000}}}`, Config{},
			"imageprep: image size 20000 is out of range (want 1..16384; set vision_cfg.image_size)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromOpenCLIP([]byte(tc.json))
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("fixture", func(t *testing.T) {
		assert.Equal(t, openai, biomedCLIP(t), "BiomedCLIP uses OpenAI's mean/std at 224")
	})
}
