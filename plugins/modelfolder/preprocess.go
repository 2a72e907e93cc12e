package modelfolder

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/clipeval/clipeval/plugins/imageprep"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// PixelsPerImage is the length of one preprocessed image, 3 × size × size.
func (f *Folder) PixelsPerImage() int {
	return 3 * f.Image.Size * f.Image.Size
}

// Preprocess turns images into a new [len(images), 3, size, size] float32 batch, as PreprocessInto does.
func (f *Folder) Preprocess(ctx context.Context, budget *imageprep.Budget, images []sdk.ImageInput) ([]float32, error) {
	pixels := make([]float32, len(images)*f.PixelsPerImage())
	if err := f.PreprocessInto(ctx, budget, pixels, images); err != nil {
		return nil, err
	}
	return pixels, nil
}

// PreprocessInto turns images into pixels ([len(images), 3, size, size] float32, which pixels must hold) with the
// folder's eval transform, on GOMAXPROCS goroutines, each image decoded within budget (shared by every decode of
// the process; nil: none). A corrupt or oversized image is an sdk.InvalidInput error naming it.
func (f *Folder) PreprocessInto(ctx context.Context, budget *imageprep.Budget, pixels []float32, images []sdk.ImageInput) error {
	per := f.PixelsPerImage()
	if len(pixels) < len(images)*per {
		return fmt.Errorf("preprocessing %d images of %d values into a buffer of %d", len(images), per, len(pixels))
	}
	errs := make([]error, len(images))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(images)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = f.preprocessOne(budget, pixels[i*per:(i+1)*per], images[i])
			}
		}()
	}
	for i := range images {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func (f *Folder) preprocessOne(budget *imageprep.Budget, dst []float32, im sdk.ImageInput) error {
	data, err := im.Bytes()
	if err != nil {
		return err
	}
	if err := f.Image.PreprocessWithin(budget, dst, data); err != nil {
		return sdk.InvalidInput(fmt.Errorf("image %s: %w", im.Label(), err)) // a corrupt or oversized image
	}
	return nil
}
