package backend

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clipeval/clipeval/plugins/kserve/client"
	"github.com/clipeval/clipeval/plugins/modelfolder"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// The backend's own model options (besides modelfolder's logit_scale and bpe).
const (
	OptionURL          = "url"
	OptionTLS          = "tls"
	OptionCAFile       = "ca_file"
	OptionToken        = "token"
	OptionTokenFile    = "token_file"
	OptionModelName    = "model_name"
	OptionModelVersion = "model_version"
	OptionMaxMessageMB = "max_message_mb"
	OptionMaxBatch     = "max_batch"
)

// maxMessageMB is the largest max_message_mb: gRPC sizes messages in int32 bytes.
const maxMessageMB = 2047

// OptionFields declares the model options, for Describe (and so for `clipeval validate`). None of the connection
// options changes an embedding (KeepsEmbeddings): the model served is identified by what the server reports of it,
// which ModelInfo.Runtime records (see Info).
func OptionFields() []sdk.Field {
	return append(modelfolder.OptionFields(),
		sdk.Field{Name: OptionURL, Type: sdk.FieldString, Required: true, KeepsEmbeddings: true,
			Help: "the inference server's gRPC address HOST:PORT (clipeval serve's --listen, default 127.0.0.1:8001; Triton's gRPC port is 8001)"},
		sdk.Field{Name: OptionTLS, Type: sdk.FieldBool, KeepsEmbeddings: true,
			Help: "connect with TLS, trusting the system's certificate authorities (or ca_file's)"},
		sdk.Field{Name: OptionCAFile, Type: sdk.FieldPath, KeepsEmbeddings: true,
			Help: "PEM file of the certificates to trust for the server's (a self-signed certificate itself); implies tls"},
		sdk.Field{Name: OptionToken, Type: sdk.FieldString, KeepsEmbeddings: true,
			Help: "bearer token sent with every call (authorization: Bearer TOKEN; default: $CLIPEVAL_KSERVE_TOKEN); prefer token_file or the variable, which keep it out of the config"},
		sdk.Field{Name: OptionTokenFile, Type: sdk.FieldPath, KeepsEmbeddings: true,
			Help: "file holding the bearer token (white space around it is ignored)"},
		sdk.Field{Name: OptionModelName, Type: sdk.FieldString, KeepsEmbeddings: true,
			Help: "NAME of the served models NAME-image and NAME-text (default: the model folder's base name, as clipeval serve names them)"},
		sdk.Field{Name: OptionModelVersion, Type: sdk.FieldString, KeepsEmbeddings: true,
			Help: "the model version to ask for (default: the one version the server lists, else the server's choice)"},
		sdk.Field{Name: OptionMaxMessageMB, Type: sdk.FieldInt, Min: sdk.Bound(1), Max: sdk.Bound(maxMessageMB), KeepsEmbeddings: true,
			Help: "largest gRPC message either way, in MiB (default 256, as clipeval serve's --max-message-mb); larger batches are split"},
		sdk.Field{Name: OptionMaxBatch, Type: sdk.FieldInt, Min: sdk.Bound(1), KeepsEmbeddings: true,
			Help: "at most N inputs per inference request (default: the whole backend call, as message size allows; Triton: the model's max_batch_size)"},
	)
}

// options are a model's options as the backend uses them.
type options struct {
	client.Config
	// modelName is NAME of NAME-image and NAME-text.
	modelName string
	// modelVersion is the version to ask for; "" to take the server's.
	modelVersion string
	// maxBatch bounds the inputs per request; 0: only the message size does.
	maxBatch int
	// folder are the options modelfolder.Read applies.
	folder map[string]string
}

// knownOptions lists the option names, for the message about an unknown one.
func knownOptions() string {
	var names []string
	for _, f := range OptionFields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// parseOptions reads ref's options, resolving paths against ref.BaseDir, with token the bearer token when neither
// token nor token_file is set; it returns every problem, keyed "options.NAME" (a problem of the whole set under the
// key of one of its options).
func parseOptions(ref sdk.ModelRef, token string) (options, []sdk.Problem) {
	o := options{modelName: filepath.Base(ref.Dir), folder: map[string]string{}}
	o.Token = token
	var problems []sdk.Problem
	bad := func(k string, format string, args ...any) {
		problems = append(problems, sdk.Problem{Key: "options." + k, Message: fmt.Sprintf("model %s: option %s: ", ref.Dir, k) + fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(ref.Options))
	for k := range ref.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := ref.Options[k]
		if known, err := modelfolder.CheckOption(k, v, ref.BaseDir); known {
			if err != nil {
				problems = append(problems, sdk.Problem{Key: "options." + k, Message: fmt.Sprintf("model %s: %v", ref.Dir, err)})
			} else {
				o.folder[k] = v
			}
			continue
		}
		switch k {
		case OptionURL:
			if err := client.CheckAddress(v); err != nil {
				bad(k, "%v", err)
			}
			o.Address = v
		case OptionTLS:
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(k, "%q: want true or false", v)
			}
			o.TLS = b
		case OptionCAFile:
			o.CAFile = modelfolder.Resolve(v, ref.BaseDir)
		case OptionToken:
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				bad(k, "want the token alone, without white space")
			}
			o.Token = v
		case OptionTokenFile:
			tok, err := client.ReadToken(modelfolder.Resolve(v, ref.BaseDir))
			if err != nil {
				bad(k, "%v", err)
			}
			if _, both := ref.Options[OptionToken]; both {
				bad(k, "give the token once: token or token_file, not both")
			}
			o.Token = tok
		case OptionModelName:
			if v == "" {
				bad(k, "is empty: give NAME of the served models NAME-image and NAME-text")
			}
			o.modelName = v
		case OptionModelVersion:
			o.modelVersion = v
		case OptionMaxMessageMB:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxMessageMB {
				bad(k, "%q: want a whole number of MiB from 1 to %d", v, maxMessageMB)
			}
			o.MaxMessageBytes = n << 20
		case OptionMaxBatch:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				bad(k, "%q: want a whole number of inputs, at least 1", v)
			}
			o.maxBatch = n
		default:
			problems = append(problems, sdk.Problem{Key: "options." + k,
				Message: fmt.Sprintf("model %s: unknown option %q (known: %s)", ref.Dir, k, knownOptions())})
		}
	}
	if _, ok := ref.Options[OptionURL]; !ok {
		problems = append(problems, sdk.Problem{Key: "options." + OptionURL,
			Message: fmt.Sprintf("model %s: option url is required: the inference server's gRPC address HOST:PORT (e.g. clipeval serve's 127.0.0.1:8001)", ref.Dir)})
	}
	return o, problems
}
