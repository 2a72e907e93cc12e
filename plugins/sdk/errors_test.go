package sdk

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestInvalidInputTravelsAsInvalidArgument: what gRPC sends for a wrapped InvalidInput error, and what the client
// side makes of it.
func TestInvalidInputTravelsAsInvalidArgument(t *testing.T) {
	assert.NoError(t, InvalidInput(nil))
	err := fmt.Errorf("image a.png: %w", InvalidInput(errors.New("not a PNG")))
	st := status.Convert(err)
	assert.Equal(t, codes.InvalidArgument, st.Code())
	assert.Equal(t, "image a.png: not a PNG", st.Message())
	assert.True(t, IsInvalidInput(err))

	back := rpcError(st.Err())
	assert.Equal(t, "image a.png: not a PNG", back.Error(), "no status code name in the message")
	assert.True(t, IsInvalidInput(fmt.Errorf("encoding: %w", back)))
	assert.False(t, IsInvalidInput(rpcError(status.Error(codes.Unavailable, "gone"))))
	assert.False(t, IsInvalidInput(errors.New("plain")))
}
