// Command onnx is clipeval's ONNX Runtime model backend plugin. The harness starts it from bin/plugins/onnx; it
// loads ONNX Runtime from $CLIPEVAL_ORT_LIB or bin/lib/libonnxruntime.so.1.
package main

import (
	"github.com/clipeval/clipeval/plugins/onnx/backend"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// version is the plugin's version, set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	// Without a library the plugin still serves: every call reports why, and the harness names the plugin.
	b := backend.NewFromEnv()
	b.Version = version
	b.Warm() // while the harness loads its datasets
	defer b.Close()
	sdk.ServeModel("onnx", b)
}
