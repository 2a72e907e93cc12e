package inferencepb

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestWireFormatFollowsTheSpecification checks the generated descriptors against the published protocol
// definition (open-inference-protocol, specification/protocol/open_inference_grpc.proto; KServe's and Triton's
// grpc_predict_v2 / grpc_service protos agree on every field below): a field with a wrong number, name, type or
// cardinality is a wire format no other server speaks.
func TestWireFormatFollowsTheSpecification(t *testing.T) {
	type field struct {
		name     string
		number   protoreflect.FieldNumber
		kind     protoreflect.Kind
		repeated bool
	}
	str, i64, boo, byt, msg := protoreflect.StringKind, protoreflect.Int64Kind, protoreflect.BoolKind, protoreflect.BytesKind, protoreflect.MessageKind
	tests := []struct {
		message proto.Message
		nested  string // a nested message's name, "" for the message itself
		fields  []field
	}{
		{&ServerLiveResponse{}, "", []field{{"live", 1, boo, false}}},
		{&ServerReadyResponse{}, "", []field{{"ready", 1, boo, false}}},
		{&ModelReadyRequest{}, "", []field{{"name", 1, str, false}, {"version", 2, str, false}}},
		{&ModelReadyResponse{}, "", []field{{"ready", 1, boo, false}}},
		{&ServerMetadataResponse{}, "", []field{{"name", 1, str, false}, {"version", 2, str, false}, {"extensions", 3, str, true}}},
		{&ModelMetadataRequest{}, "", []field{{"name", 1, str, false}, {"version", 2, str, false}}},
		{&ModelMetadataResponse{}, "", []field{{"name", 1, str, false}, {"versions", 2, str, true}, {"platform", 3, str, false},
			{"inputs", 4, msg, true}, {"outputs", 5, msg, true}, {"properties", 6, msg, true}}},
		{&ModelMetadataResponse{}, "TensorMetadata", []field{{"name", 1, str, false}, {"datatype", 2, str, false}, {"shape", 3, i64, true}}},
		{&ModelInferRequest{}, "", []field{{"model_name", 1, str, false}, {"model_version", 2, str, false}, {"id", 3, str, false},
			{"parameters", 4, msg, true}, {"inputs", 5, msg, true}, {"outputs", 6, msg, true}, {"raw_input_contents", 7, byt, true}}},
		{&ModelInferRequest{}, "InferInputTensor", []field{{"name", 1, str, false}, {"datatype", 2, str, false}, {"shape", 3, i64, true},
			{"parameters", 4, msg, true}, {"contents", 5, msg, false}}},
		{&ModelInferRequest{}, "InferRequestedOutputTensor", []field{{"name", 1, str, false}, {"parameters", 2, msg, true}}},
		{&ModelInferResponse{}, "", []field{{"model_name", 1, str, false}, {"model_version", 2, str, false}, {"id", 3, str, false},
			{"parameters", 4, msg, true}, {"outputs", 5, msg, true}, {"raw_output_contents", 6, byt, true}}},
		{&ModelInferResponse{}, "InferOutputTensor", []field{{"name", 1, str, false}, {"datatype", 2, str, false}, {"shape", 3, i64, true},
			{"parameters", 4, msg, true}, {"contents", 5, msg, false}}},
		{&InferParameter{}, "", []field{{"bool_param", 1, boo, false}, {"int64_param", 2, i64, false}, {"string_param", 3, str, false},
			{"double_param", 4, protoreflect.DoubleKind, false}, {"uint64_param", 5, protoreflect.Uint64Kind, false}}},
		{&InferTensorContents{}, "", []field{{"bool_contents", 1, boo, true}, {"int_contents", 2, protoreflect.Int32Kind, true},
			{"int64_contents", 3, i64, true}, {"uint_contents", 4, protoreflect.Uint32Kind, true}, {"uint64_contents", 5, protoreflect.Uint64Kind, true},
			{"fp32_contents", 6, protoreflect.FloatKind, true}, {"fp64_contents", 7, protoreflect.DoubleKind, true}, {"bytes_contents", 8, byt, true}}},
	}
	for _, tc := range tests {
		md := tc.message.ProtoReflect().Descriptor()
		if tc.nested != "" {
			md = md.Messages().ByName(protoreflect.Name(tc.nested))
			require.NotNil(t, md, "nested message %s", tc.nested)
		}
		t.Run(string(md.FullName()), func(t *testing.T) {
			assert.Equal(t, len(tc.fields), md.Fields().Len(), "the specification's fields, no more")
			for _, f := range tc.fields {
				fd := md.Fields().ByName(protoreflect.Name(f.name))
				if !assert.NotNil(t, fd, "field %s", f.name) {
					continue
				}
				assert.Equal(t, f.number, fd.Number(), "field %s", f.name)
				assert.Equal(t, f.kind, fd.Kind(), "field %s", f.name)
				assert.Equal(t, f.repeated, fd.Cardinality() == protoreflect.Repeated, "field %s repeated", f.name)
			}
		})
	}
}

// TestService checks the package, service and method names a client dials: /inference.GRPCInferenceService/NAME.
func TestService(t *testing.T) {
	sd := File_inference_v2_grpc_predict_v2_proto.Services().ByName("GRPCInferenceService")
	require.NotNil(t, sd)
	assert.Equal(t, protoreflect.FullName("inference.GRPCInferenceService"), sd.FullName())
	methods := map[string][2]string{
		"ServerLive": {"ServerLiveRequest", "ServerLiveResponse"}, "ServerReady": {"ServerReadyRequest", "ServerReadyResponse"},
		"ModelReady": {"ModelReadyRequest", "ModelReadyResponse"}, "ServerMetadata": {"ServerMetadataRequest", "ServerMetadataResponse"},
		"ModelMetadata": {"ModelMetadataRequest", "ModelMetadataResponse"}, "ModelInfer": {"ModelInferRequest", "ModelInferResponse"},
	}
	assert.Equal(t, len(methods), sd.Methods().Len())
	for name, io := range methods {
		m := sd.Methods().ByName(protoreflect.Name(name))
		if assert.NotNil(t, m, name) {
			assert.Equal(t, protoreflect.FullName("inference."+io[0]), m.Input().FullName())
			assert.Equal(t, protoreflect.FullName("inference."+io[1]), m.Output().FullName())
			assert.False(t, m.IsStreamingClient() || m.IsStreamingServer(), name)
		}
	}
	assert.Equal(t, "/inference.GRPCInferenceService/ModelInfer", GRPCInferenceService_ModelInfer_FullMethodName)
}

// TestRawContentsAreLittleEndian checks the raw layout byte by byte against values written out by hand.
func TestRawContentsAreLittleEndian(t *testing.T) {
	f := RawFloat32([]float32{1, -2.5, float32(math.Inf(1))})
	assert.Equal(t, []byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0, 0, 0x80, 0x7f}, f)
	i := RawInt64([]int64{1, -1, 0x0102030405060708})
	assert.Equal(t, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 8, 7, 6, 5, 4, 3, 2, 1}, i)
	i32, err := RawInt32([]int64{1, -1, 101})
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 101, 0, 0, 0}, i32)
	_, err = RawInt32([]int64{1 << 40})
	assert.ErrorContains(t, err, "does not fit INT32")
}

func TestDecode(t *testing.T) {
	floats := []float32{0, 1, -2.5, math.MaxFloat32, math.SmallestNonzeroFloat32}
	ints := []int64{0, 1, -1, 30522, math.MaxInt64}
	small := []int64{0, 1, -1, 30522, math.MaxInt32}
	i32, err := RawInt32(small)
	require.NoError(t, err)
	tests := []struct {
		name     string
		datatype string
		raw      []byte
		hasRaw   bool
		contents *InferTensorContents
		n        int
		want     any
		wantErr  string
	}{
		{"fp32 raw", DataTypeFP32, RawFloat32(floats), true, nil, 5, floats, ""},
		{"fp32 typed", DataTypeFP32, nil, false, &InferTensorContents{Fp32Contents: floats}, 5, floats, ""},
		{"fp32 raw short", DataTypeFP32, RawFloat32(floats)[:19], true, nil, 5, nil, "raw contents are 19 bytes; 5 FP32 values are 20"},
		{"fp32 typed long", DataTypeFP32, nil, false, &InferTensorContents{Fp32Contents: floats}, 4, nil, "fp32_contents holds 5 values; the shape makes 4"},
		{"fp32 no contents", DataTypeFP32, nil, false, nil, 2, nil, "fp32_contents holds 0 values; the shape makes 2"},
		{"int64 raw", DataTypeINT64, RawInt64(ints), true, nil, 5, ints, ""},
		{"int64 typed", DataTypeINT64, nil, false, &InferTensorContents{Int64Contents: ints}, 5, ints, ""},
		{"int64 raw long", DataTypeINT64, RawInt64(ints), true, nil, 4, nil, "raw contents are 40 bytes; 4 INT64 values are 32"},
		{"int32 raw", DataTypeINT32, i32, true, nil, 5, small, ""},
		{"int32 typed", DataTypeINT32, nil, false, &InferTensorContents{IntContents: []int32{0, 1, -1, 30522, math.MaxInt32}}, 5, small, ""},
		{"int32 raw short", DataTypeINT32, i32[:4], true, nil, 5, nil, "raw contents are 4 bytes; 5 INT32 values are 20"},
		{"not an integer type", "FP16", nil, true, nil, 1, nil, `data type "FP16" is not an integer type`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			var err error
			if tc.datatype == DataTypeFP32 {
				got, err = Float32s(tc.raw, tc.hasRaw, tc.contents, tc.n)
			} else {
				got, err = Ints(tc.datatype, tc.raw, tc.hasRaw, tc.contents, tc.n)
			}
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestElementCount(t *testing.T) {
	tests := []struct {
		shape   []int64
		max     int
		want    int
		wantErr string
	}{
		{[]int64{2, 3, 224, 224}, 1 << 30, 301056, ""},
		{[]int64{}, 10, 1, ""},
		{[]int64{0, 77}, 10, 0, ""},
		{[]int64{-1, 77}, 1 << 30, 0, "dimension 0 is -1"},
		{[]int64{1 << 40, 1 << 40}, 1 << 30, 0, "holds more than 1073741824 elements"},
		{[]int64{11}, 10, 0, "holds more than 10 elements"},
	}
	for _, tc := range tests {
		got, err := ElementCount(tc.shape, tc.max)
		if tc.wantErr != "" {
			assert.ErrorContains(t, err, tc.wantErr, "%v", tc.shape)
			continue
		}
		require.NoError(t, err, "%v", tc.shape)
		assert.Equal(t, tc.want, got, "%v", tc.shape)
	}
}
