// Command onnx is clipeval's ONNX Runtime model backend plugin. The harness starts it from bin/plugins/onnx; it
// loads ONNX Runtime from $CLIPEVAL_ORT_LIB or bin/lib/libonnxruntime.so.1.
package main

import (
	"github.com/clipeval/clipeval/plugins/onnx/backend"
	"github.com/clipeval/clipeval/plugins/sdk"
)

func main() {
	// Without a library the plugin still serves: every call reports why, and the harness names the plugin.
	b := backend.NewFromEnv()
	defer b.Close()
	sdk.ServeModel("onnx", b)
}
