// Command retrieval is the clipeval task plugin for zero-shot image–text retrieval: it reads a JSON Lines manifest
// of images and captions and reports recall@k both ways, as CLIP_benchmark's zeroshot_retrieval does. The harness
// starts it; it is not run by hand.
package main

import "github.com/clipeval/clipeval/plugins/sdk"

func main() { sdk.ServeTask(name, &task{}) }
