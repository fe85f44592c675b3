package gguf

import (
	"fmt"
)

// KV is one metadata key/value pair in file order.
type KV struct {
	Key   string
	Value Value
}

// Value is a typed GGUF metadata value. V holds, by Type: uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64, float64, or for
// ValArray an Array. Keeping the stored type (not just the Go value) is what
// lets a rewrite reproduce the input bytes exactly.
type Value struct {
	Type ValueType
	V    any
}

// Array is a GGUF array: Data is []uint8, []int8, []uint16, []int16, []uint32,
// []int32, []float32, []bool, []string, []uint64, []int64, []float64 or, for
// nested arrays, []Array.
type Array struct {
	Elem ValueType
	Data any
}

// Len is the number of elements.
func (a Array) Len() int {
	switch d := a.Data.(type) {
	case []uint8:
		return len(d)
	case []int8:
		return len(d)
	case []uint16:
		return len(d)
	case []int16:
		return len(d)
	case []uint32:
		return len(d)
	case []int32:
		return len(d)
	case []float32:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	case []uint64:
		return len(d)
	case []int64:
		return len(d)
	case []float64:
		return len(d)
	case []Array:
		return len(d)
	}
	return 0
}

func U32(x uint32) Value     { return Value{ValUint32, x} }
func U64(x uint64) Value     { return Value{ValUint64, x} }
func F32(x float32) Value    { return Value{ValFloat32, x} }
func Str(s string) Value     { return Value{ValString, s} }
func Bool(b bool) Value      { return Value{ValBool, b} }
func I32(x int32) Value      { return Value{ValInt32, x} }
func F32s(x []float32) Value { return Value{ValArray, Array{ValFloat32, x}} }
func U16s(x []uint16) Value  { return Value{ValArray, Array{ValUint16, x}} }
func I32s(x []int32) Value   { return Value{ValArray, Array{ValInt32, x}} }
func Strs(x []string) Value  { return Value{ValArray, Array{ValString, x}} }

// Uint returns an integer value of any integer type as uint64; ok is false for
// other types and for negative values.
func (v Value) Uint() (uint64, bool) {
	switch x := v.V.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Float returns a float or integer value as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.V.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if u, ok := v.Uint(); ok {
		return float64(u), true
	}
	return 0, false
}

// Str returns a string value.
func (v Value) Str() (string, bool) {
	s, ok := v.V.(string)
	return s, ok
}

// Arr returns an array value.
func (v Value) Arr() (Array, bool) {
	a, ok := v.V.(Array)
	return a, ok
}

// Float32s returns an f32 array, or a u16 array read as IEEE half bits
// (the two encodings FORMAT.md allows for codebooks and scales).
func (v Value) Float32s() ([]float32, bool) {
	a, ok := v.V.(Array)
	if !ok {
		return nil, false
	}
	switch d := a.Data.(type) {
	case []float32:
		return d, true
	case []uint16:
		out := make([]float32, len(d))
		for i, h := range d {
			out[i] = HalfToFloat(h)
		}
		return out, true
	}
	return nil, false
}

// String renders a value briefly for inspect output.
func (v Value) String() string {
	switch x := v.V.(type) {
	case Array:
		return fmt.Sprintf("[%s × %d]", x.Elem, x.Len())
	case string:
		if len(x) > 60 {
			return fmt.Sprintf("%q…", x[:60])
		}
		return fmt.Sprintf("%q", x)
	case float32:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v.V)
}

// checkType reports whether the Go value matches the declared type.
func (v Value) checkType() error {
	ok := false
	switch v.Type {
	case ValUint8:
		_, ok = v.V.(uint8)
	case ValInt8:
		_, ok = v.V.(int8)
	case ValUint16:
		_, ok = v.V.(uint16)
	case ValInt16:
		_, ok = v.V.(int16)
	case ValUint32:
		_, ok = v.V.(uint32)
	case ValInt32:
		_, ok = v.V.(int32)
	case ValFloat32:
		_, ok = v.V.(float32)
	case ValBool:
		_, ok = v.V.(bool)
	case ValString:
		_, ok = v.V.(string)
	case ValUint64:
		_, ok = v.V.(uint64)
	case ValInt64:
		_, ok = v.V.(int64)
	case ValFloat64:
		_, ok = v.V.(float64)
	case ValArray:
		_, ok = v.V.(Array)
	}
	if !ok {
		return fmt.Errorf("value of type %s holds Go %T", v.Type, v.V)
	}
	return nil
}
