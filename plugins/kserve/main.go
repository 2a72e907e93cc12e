// Command kserve is clipeval's Open Inference Protocol model backend plugin (KServe V2 gRPC): the towers run on an
// inference server (clipeval serve, KServe, NVIDIA Triton), preprocessing and tokenization here. The harness starts
// it from bin/plugins/kserve for models with `backend: kserve`.
package main

import (
	"github.com/clipeval/clipeval/plugins/kserve/backend"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// version is the plugin's version, set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	b := backend.NewFromEnv()
	b.Version = version
	defer b.Close()
	sdk.ServeModel(backend.Name, b)
}
