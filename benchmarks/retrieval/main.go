// Command retrieval is the clipeval task plugin for zero-shot image–text retrieval: it reads a JSON Lines manifest
// of images and captions and reports recall@k both ways, as CLIP_benchmark's zeroshot_retrieval does. The harness
// starts it; it is not run by hand.
package main

import "github.com/clipeval/clipeval/plugins/sdk"

// version is the plugin's own version, recorded in results.json; the Makefile sets it with
// -ldflags "-X main.version=...".
var version = "dev"

func main() { sdk.ServeTask(name, &task{}) }
