// Command classification is the clipeval task plugin for zero-shot image classification: it reads labelled images
// (a JSON Lines manifest, or VQA-RAD images labelled by organ) and class prompt templates, and reports accuracy,
// balanced accuracy, per-class recall, the confusion matrix and, for two classes, AUROC, as CLIP_benchmark's
// zeroshot_classification does. The harness starts it; it is not run by hand.
package main

import "github.com/clipeval/clipeval/plugins/sdk"

// version is the plugin's own version, recorded in results.json; the Makefile sets it with
// -ldflags "-X main.version=...".
var version = "dev"

func main() { sdk.ServeTask(name, &task{}) }
