package conformance

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// modelCasesNeedingData are the model cases that run only with Options.Model, in the order they run.
func modelCasesNeedingData() []string {
	return []string{"check-model", "info", "encode-texts", "encode-images", "encode-images-unreadable"}
}

// modelCases runs the cases of a model backend.
func (c *checker) modelCases(ctx context.Context) {
	bogus := sdk.ModelRef{Dir: filepath.Join(c.work, "no-such-model"), BaseDir: c.work}
	images, err := c.writeImages()
	c.run(ctx, "check-model-missing", func(ctx context.Context) outcome {
		m, err := c.host.Model(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		r, callErr := m.CheckModel(ctx, sdk.CheckModelRequest{Model: bogus})
		if err := c.aliveModel(ctx, m); err != nil {
			return fail("CheckModel of a missing folder: %v (the call answered: %v)", err, callErr)
		}
		switch {
		case callErr != nil:
			return pass("refused: %v", callErr)
		case len(r.Problems) == 0:
			return fail("CheckModel of a missing folder found no problems")
		}
		return pass("%d problems, first: %s: %s", len(r.Problems), r.Problems[0].Key, r.Problems[0].Message)
	})
	c.run(ctx, "info-missing", func(ctx context.Context) outcome {
		return c.refusedModel(ctx, "Info of a missing folder", func(ctx context.Context, m *pluginhost.Model) error {
			_, err := m.Info(ctx, sdk.ModelInfoRequest{Model: bogus})
			return err
		})
	})
	c.run(ctx, "encode-texts-bogus", func(ctx context.Context) outcome {
		return c.refusedModel(ctx, "EncodeTexts with a missing model folder", func(ctx context.Context, m *pluginhost.Model) error {
			_, err := m.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: bogus, Texts: []string{"a photo of a cat"}})
			return err
		})
	})
	c.run(ctx, "encode-images-bogus", func(ctx context.Context) outcome {
		if err != nil {
			return fail("%v", err)
		}
		return c.refusedModel(ctx, "EncodeImages with a missing model folder", func(ctx context.Context, m *pluginhost.Model) error {
			_, err := m.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: bogus, Images: images})
			return err
		})
	})
	if c.opts.Model == "" {
		for _, name := range modelCasesNeedingData() {
			c.run(ctx, name, func(context.Context) outcome {
				return skip("needs a model folder: Options.Model (clipeval plugins --check PATH --model DIR)")
			})
		}
		return
	}
	dir, derr := filepath.Abs(c.opts.Model)
	if derr != nil {
		dir = c.opts.Model
	}
	base, _ := os.Getwd()
	ref := sdk.ModelRef{Dir: dir, Options: c.opts.ModelOptions, BaseDir: base}
	c.run(ctx, "check-model", func(ctx context.Context) outcome {
		m, err := c.host.Model(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		r, err := m.CheckModel(ctx, sdk.CheckModelRequest{Model: ref})
		if err != nil {
			return fail("%v", err)
		}
		if len(r.Problems) > 0 {
			var s []string
			for _, p := range r.Problems {
				s = append(s, p.Key+": "+p.Message)
			}
			return fail("the model has problems: %s", strings.Join(s, "; "))
		}
		return pass("no problems")
	})
	var info *sdk.ModelInfo
	c.run(ctx, "info", func(ctx context.Context) outcome {
		m, err := c.host.Model(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		i, err := m.Info(ctx, sdk.ModelInfoRequest{Model: ref})
		if err != nil {
			return fail("%v", err)
		}
		var probs []string
		if i.EmbedDim <= 0 {
			probs = append(probs, fmt.Sprintf("embed_dim is %d", i.EmbedDim))
		}
		if math.IsNaN(i.LogitScale) || math.IsInf(i.LogitScale, 0) || i.LogitScale < 0 {
			probs = append(probs, fmt.Sprintf("logit_scale is %g", i.LogitScale))
		}
		if len(probs) > 0 {
			return fail("%s", strings.Join(probs, "; "))
		}
		info = i
		return pass("%s: embed_dim %d, image_size %d, context_length %d, %d files hashed", i.Name, i.EmbedDim, i.ImageSize,
			i.ContextLength, len(i.Files))
	})
	c.run(ctx, "encode-texts", func(ctx context.Context) outcome {
		if info == nil {
			return skip("info did not pass")
		}
		m, err := c.host.Model(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		texts := []string{"a photo of a cat", "", "a diagram of the heart, labelled in French: cœur, ventricule gauche"}
		r, err := m.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: texts})
		if err != nil {
			return fail("%v", err)
		}
		return embeddingOutcome(r.Embeddings, len(texts), info.EmbedDim, "texts")
	})
	c.run(ctx, "encode-images", func(ctx context.Context) outcome {
		if info == nil {
			return skip("info did not pass")
		}
		if err != nil {
			return fail("%v", err)
		}
		m, err := c.host.Model(c.name)
		if err != nil {
			return fail("starting: %v", err)
		}
		r, err := m.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: images})
		if err != nil {
			return fail("%v", err)
		}
		return embeddingOutcome(r.Embeddings, len(images), info.EmbedDim, "images (PNG and JPEG)")
	})
	c.run(ctx, "encode-images-unreadable", func(ctx context.Context) outcome {
		missing := []sdk.ImageInput{sdk.FileImage(filepath.Join(c.work, "no-such-image.png"))}
		return c.refusedModel(ctx, "EncodeImages of a missing image file", func(ctx context.Context, m *pluginhost.Model) error {
			_, err := m.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: missing})
			return err
		})
	})
}

// embeddingOutcome checks a batch of embeddings: one finite row per input, embed_dim wide.
func embeddingOutcome(e sdk.Matrix, rows, cols int, what string) outcome {
	if err := e.Check(); err != nil {
		return fail("%v", err)
	}
	if e.Rows != rows || e.Cols != cols {
		return fail("%d %s encoded to [%d, %d], want [%d, %d] (embed_dim %d)", rows, what, e.Rows, e.Cols, rows, cols, cols)
	}
	for i, v := range e.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fail("embedding %d has a non-finite value %g", i/cols, v)
		}
	}
	return pass("%d %s encoded to [%d, %d]", rows, what, e.Rows, e.Cols)
}

// refusedModel runs a call that must fail with an error, then checks that the backend survived it.
func (c *checker) refusedModel(ctx context.Context, what string, call func(context.Context, *pluginhost.Model) error) outcome {
	m, err := c.host.Model(c.name)
	if err != nil {
		return fail("starting: %v", err)
	}
	callErr := call(ctx, m)
	if err := c.aliveModel(ctx, m); err != nil {
		return fail("%s: %v (the call answered: %v)", what, err, callErr)
	}
	if callErr == nil {
		return fail("%s succeeded; want an error", what)
	}
	return pass("refused: %v", callErr)
}

// aliveModel checks that the backend m is still running and answers Describe.
func (c *checker) aliveModel(ctx context.Context, m *pluginhost.Model) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.StartTimeout)
	defer cancel()
	return c.alive(actx, m.Plugin, func(ctx context.Context) error {
		_, err := m.Describe(ctx, sdk.DescribeRequest{})
		return err
	})
}

// writeImages writes a small PNG and a small JPEG (a colour gradient) to the work folder.
func (c *checker) writeImages() ([]sdk.ImageInput, error) {
	var out []sdk.ImageInput
	for _, f := range []struct {
		name string
		w, h int
	}{{"gradient.png", 40, 32}, {"gradient.jpg", 48, 64}} {
		img := image.NewRGBA(image.Rect(0, 0, f.w, f.h))
		for y := range f.h {
			for x := range f.w {
				img.Set(x, y, color.RGBA{R: uint8(255 * x / f.w), G: uint8(255 * y / f.h), B: 128, A: 255})
			}
		}
		path := filepath.Join(c.work, f.name)
		file, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("writing a test image: %w", err)
		}
		if filepath.Ext(f.name) == ".png" {
			err = png.Encode(file, img)
		} else {
			err = jpeg.Encode(file, img, &jpeg.Options{Quality: 90})
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing a test image: %w", err)
		}
		out = append(out, sdk.FileImage(path))
	}
	return out, nil
}
