package sdk

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// InvalidInput marks err as caused by the input a plugin was given (a corrupt image, a broken model folder, a
// dataset that breaks its own rules) rather than by the plugin or the machine: the harness reports it as bad input
// (clipeval exits 2, with the message on the console). It crosses the process boundary as the gRPC status
// InvalidArgument, whatever wraps it on the way. InvalidInput(nil) is nil.
func InvalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err: err}
}

// inputError is an error marked by InvalidInput.
type inputError struct{ err error }

// Error returns the marked error's message.
func (e *inputError) Error() string { return e.err.Error() }

// Unwrap returns the marked error.
func (e *inputError) Unwrap() error { return e.err }

// GRPCStatus is what gRPC sends for the error: InvalidArgument with its message.
func (e *inputError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.err.Error())
}

// IsInvalidInput reports whether err, or an error it wraps, is bad input: marked by InvalidInput in this process,
// or a plugin call that answered InvalidArgument.
func IsInvalidInput(err error) bool {
	var ie *inputError
	if errors.As(err, &ie) {
		return true
	}
	var r *RPCError
	return errors.As(err, &r) && r.Code == codes.InvalidArgument.String()
}
