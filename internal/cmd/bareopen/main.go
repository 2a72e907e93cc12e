// Command bareopen is make bench's reference for opening a model: what a bare onnxruntime_go program pays, in a
// process of its own, to load ONNX Runtime and create one session per ONNX file with a given thread count. It
// prints "ready" on stdout once every session exists (the parent times it from the process's start to that line),
// then destroys them and exits.
//
//	bareopen -lib libonnxruntime.so -threads N FILE.onnx:IN[,IN...]:OUT ...
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bareopen:", err)
		os.Exit(1)
	}
}

func run() error {
	lib := flag.String("lib", "", "the ONNX Runtime library")
	threads := flag.Int("threads", 1, "intra-op threads of every session")
	flag.Parse()
	ort.SetSharedLibraryPath(*lib)
	if err := ort.InitializeEnvironment(); err != nil {
		return fmt.Errorf("loading ONNX Runtime from %s: %w", *lib, err)
	}
	defer ort.DestroyEnvironment()
	var sessions []*ort.DynamicAdvancedSession
	defer func() {
		for _, s := range sessions {
			s.Destroy()
		}
	}()
	for _, arg := range flag.Args() {
		parts := strings.Split(arg, ":")
		if len(parts) != 3 {
			return fmt.Errorf("%q: want FILE.onnx:INPUTS:OUTPUT", arg)
		}
		opts, err := ort.NewSessionOptions()
		if err != nil {
			return err
		}
		if err := opts.SetIntraOpNumThreads(*threads); err != nil {
			return err
		}
		s, err := ort.NewDynamicAdvancedSession(parts[0], strings.Split(parts[1], ","), []string{parts[2]}, opts)
		opts.Destroy()
		if err != nil {
			return fmt.Errorf("%s: %w", parts[0], err)
		}
		sessions = append(sessions, s)
	}
	fmt.Println("ready")
	return nil
}
