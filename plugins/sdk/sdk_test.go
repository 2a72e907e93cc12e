package sdk

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/clipeval/clipeval/plugins/proto/clipeval/v1"
)

func TestMatrixRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Matrix
	}{
		{"2x3", Matrix{Rows: 2, Cols: 3, Data: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-30}}},
		{"empty", Matrix{Rows: 0, Cols: 512, Data: []float32{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := MatrixToProto(tc.m)
			assert.Len(t, p.Data, 4*len(tc.m.Data))
			got, err := MatrixFromProto(p)
			require.NoError(t, err)
			assert.Equal(t, tc.m, got)
		})
	}
	// Little-endian packing: 1.0f is 0x3f800000.
	assert.Equal(t, []byte{0, 0, 0x80, 0x3f}, MatrixToProto(Matrix{Rows: 1, Cols: 1, Data: []float32{1}}).Data)
}

func TestMatrixFromProtoErrors(t *testing.T) {
	tests := []struct {
		name string
		p    *pb.Matrix
		want string
	}{
		{"nil", nil, "matrix is missing"},
		{"short", &pb.Matrix{Rows: 2, Cols: 2, Data: make([]byte, 12)}, "matrix shape [2,2] does not match 12 bytes"},
		{"negative", &pb.Matrix{Rows: -1, Cols: 2}, "matrix shape [-1,2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MatrixFromProto(tc.p)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestMatrixCheckAndRow(t *testing.T) {
	m := Matrix{Rows: 2, Cols: 2, Data: []float32{1, 2, 3, 4}}
	require.NoError(t, m.Check())
	assert.Equal(t, []float32{3, 4}, m.Row(1))
	assert.ErrorContains(t, Matrix{Rows: 2, Cols: 2, Data: []float32{1}}.Check(), "does not match 1 values")
}

func TestHandshakeIsStable(t *testing.T) {
	h := Handshake()
	assert.Equal(t, uint(1), h.ProtocolVersion)
	assert.Equal(t, "CLIPEVAL_PLUGIN_MAGIC_COOKIE", h.MagicCookieKey)
	assert.Equal(t, "7f1c0c5e-clipeval-plugin", h.MagicCookieValue)
}
