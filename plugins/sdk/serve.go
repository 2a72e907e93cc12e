package sdk

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the version of the plugin contract (plugins/proto/clipeval/v2) this SDK speaks.
const ProtocolVersion = 2

// MaxMessageBytes is the gRPC message limit on both ends: a 64-image batch of 336×336 float32 pixels is ~87 MB,
// far above gRPC's 4 MiB default. Dataset-sized data never travels in one message (see ChunkBytes).
const MaxMessageBytes = 256 << 20

// Plugin kinds, also the names under which go-plugin dispenses them.
const (
	KindModel = "model"
	KindTask  = "task"
)

// Handshake is the go-plugin handshake every clipeval plugin and the harness share.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "CLIPEVAL_PLUGIN_MAGIC_COOKIE",
		MagicCookieValue: "7f1c0c5e-clipeval-plugin",
	}
}

// PluginSet returns the go-plugin plugin set for the harness side: both kinds, with no implementation.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{KindModel: &ModelPlugin{}, KindTask: &TaskPlugin{}}
}

// ServerOptions returns the gRPC server options every plugin uses (raised message limits).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}
}

// DialOptions returns the gRPC dial options the harness uses (raised message limits).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// ServeModel runs impl as a model backend plugin called name; it returns when the harness ends the plugin.
func ServeModel(name string, impl Model) {
	serve(name, plugin.PluginSet{KindModel: &ModelPlugin{Impl: impl}})
}

// ServeTask runs impl as a task plugin called name; it returns when the harness ends the plugin.
func ServeTask(name string, impl Task) {
	serve(name, plugin.PluginSet{KindTask: &TaskPlugin{Impl: impl}})
}

func serve(name string, set plugin.PluginSet) {
	if os.Getenv(Handshake().MagicCookieKey) != Handshake().MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is a clipeval plugin: the clipeval harness starts it (see `clipeval plugins`); it is not run by hand\n", name)
		os.Exit(2)
	}
	go exitWithParent(name, os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         set,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: name, Output: os.Stderr, Level: hclog.Info, JSONFormat: true}),
	})
}

// exitWithParent ends the plugin process once its harness (process parent, at start) is gone, checking every
// interval: a plugin is reparented when its harness dies without ending it (SIGKILL, the OOM killer), and must not
// run on alone. (On Linux the harness also asks the kernel to kill its plugins when it dies.)
func exitWithParent(name string, parent int, interval time.Duration) {
	if parent <= 1 {
		return // started by init or a subreaper's child: nothing to watch
	}
	for range time.Tick(interval) {
		if os.Getppid() != parent {
			fmt.Fprintf(os.Stderr, "%s: the clipeval harness (process %d) is gone; exiting\n", name, parent)
			os.Exit(1)
		}
	}
}
