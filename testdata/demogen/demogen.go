// Package demogen forwards to internal/demogen, where the demo generator now lives (testdata/ holds data only).
// It exists only so that harness/run's tests, which another branch is rewriting, keep compiling until they import
// github.com/clipeval/clipeval/internal/demogen; delete this folder then.
//
// Deprecated: import github.com/clipeval/clipeval/internal/demogen.
package demogen

import "github.com/clipeval/clipeval/internal/demogen"

// Expected is internal/demogen.Expected: the demo's results, known by construction.
type Expected = demogen.Expected

// Generate is internal/demogen.Generate: it writes the demo model and data sets under dir.
func Generate(dir string) (*Expected, error) { return demogen.Generate(dir) }
