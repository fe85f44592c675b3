package gguf

import (
	"fmt"
	"sync"
)

// Type is a ggml tensor type id as stored in GGUF tensor infos.
type Type uint32

// String is the ggml name of t, or "type(N)" when unknown.
func (t Type) String() string { return TypeName(t) }

// TypeInfo describes how a ggml tensor type lays out its data: blocks of
// BlockSize weights stored in TypeSize bytes (ggml.c type_traits).
type TypeInfo struct {
	Name      string
	BlockSize int
	TypeSize  int
}

// GGMLType ids as in ggml.h; only the ones this package names in code.
const (
	TypeF32  Type = 0
	TypeF16  Type = 1
	TypeQ8_0 Type = 8
	TypeBF16 Type = 30
)

// ggmlTypes is ggml.h's enum at upstream ec98e2002 (ids 4, 5, 31..33, 36..38 were removed).
var ggmlTypes = map[Type]TypeInfo{
	0: {"f32", 1, 4}, 1: {"f16", 1, 2}, 2: {"q4_0", 32, 18}, 3: {"q4_1", 32, 20},
	6: {"q5_0", 32, 22}, 7: {"q5_1", 32, 24}, 8: {"q8_0", 32, 34}, 9: {"q8_1", 32, 36},
	10: {"q2_K", 256, 84}, 11: {"q3_K", 256, 110}, 12: {"q4_K", 256, 144}, 13: {"q5_K", 256, 176},
	14: {"q6_K", 256, 210}, 15: {"q8_K", 256, 292}, 16: {"iq2_xxs", 256, 66}, 17: {"iq2_xs", 256, 74},
	18: {"iq3_xxs", 256, 98}, 19: {"iq1_s", 256, 50}, 20: {"iq4_nl", 32, 18}, 21: {"iq3_s", 256, 110},
	22: {"iq2_s", 256, 82}, 23: {"iq4_xs", 256, 136}, 24: {"i8", 1, 1}, 25: {"i16", 1, 2},
	26: {"i32", 1, 4}, 27: {"i64", 1, 8}, 28: {"f64", 1, 8}, 29: {"iq1_m", 256, 56},
	30: {"bf16", 1, 2}, 34: {"tq1_0", 256, 54}, 35: {"tq2_0", 256, 66}, 39: {"mxfp4", 32, 17},
}

// typesMu guards ggmlTypes against RegisterType running beside a reader
// (registration normally happens in init functions, before any).
var typesMu sync.RWMutex

// RegisterType adds a tensor type that ggml.h does not define, as a codec
// package layered on this one does for its own types in an init function
// (image.RegisterFormat's pattern: this package never imports the codec).
// Files holding a type nobody registered are refused by Parse, naming the
// tensor. Registering an id or a name twice panics: two codecs disagree.
func RegisterType(id Type, ti TypeInfo) {
	typesMu.Lock()
	defer typesMu.Unlock()
	if old, ok := ggmlTypes[id]; ok {
		panic(fmt.Sprintf("gguf: type %d registered twice (%s, %s)", uint32(id), old.Name, ti.Name))
	}
	for other, old := range ggmlTypes {
		if equalFold(old.Name, ti.Name) {
			panic(fmt.Sprintf("gguf: type name %q registered twice (ids %d, %d)", ti.Name, uint32(other), uint32(id)))
		}
	}
	if ti.BlockSize < 1 || ti.TypeSize < 1 {
		panic(fmt.Sprintf("gguf: type %q: block of %d weights in %d bytes", ti.Name, ti.BlockSize, ti.TypeSize))
	}
	ggmlTypes[id] = ti
}

// LookupType returns the layout of a ggml type id (registered types included).
func LookupType(t Type) (TypeInfo, bool) {
	typesMu.RLock()
	defer typesMu.RUnlock()
	ti, ok := ggmlTypes[t]
	return ti, ok
}

// TypeName is the ggml name of t, or "type(N)" when unknown.
func TypeName(t Type) string {
	if ti, ok := LookupType(t); ok {
		return ti.Name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ParseType finds a type by its ggml name, case-insensitively ("q8_0", "F16").
func ParseType(name string) (Type, bool) {
	typesMu.RLock()
	defer typesMu.RUnlock()
	for id, ti := range ggmlTypes {
		if equalFold(ti.Name, name) {
			return id, true
		}
	}
	return 0, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ValueType is a GGUF metadata value type.
type ValueType uint32

const (
	ValUint8 ValueType = iota
	ValInt8
	ValUint16
	ValInt16
	ValUint32
	ValInt32
	ValFloat32
	ValBool
	ValString
	ValArray
	ValUint64
	ValInt64
	ValFloat64
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// fixedSize is the encoded size of a scalar type, 0 for string/array/unknown.
func (t ValueType) fixedSize() int {
	switch t {
	case ValUint8, ValInt8, ValBool:
		return 1
	case ValUint16, ValInt16:
		return 2
	case ValUint32, ValInt32, ValFloat32:
		return 4
	case ValUint64, ValInt64, ValFloat64:
		return 8
	}
	return 0
}
