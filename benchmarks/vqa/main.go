// Command vqa is the clipeval task plugin for zero-shot visual question answering on VQA-RAD: it ranks candidate
// answers by the similarity of the image to a prompt built from the question and each answer, and reports closed,
// open and overall accuracy by normalised exact match. The harness starts it; it is not run by hand.
package main

import "github.com/clipeval/clipeval/plugins/sdk"

// version is the plugin's own version, recorded in results.json; the Makefile sets it with
// -ldflags "-X main.version=...".
var version = "dev"

func main() { sdk.ServeTask(name, &task{}) }
