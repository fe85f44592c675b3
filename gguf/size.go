package gguf

// Encoded sizes of header items, without encoding them: a planner that
// weighs many layouts needs the exact size of each (every byte of the file
// counts toward a bits-per-weight budget) long before it has the values.
// TestEncodedSizes holds them to what the Writer writes.

// KeySize is the encoded size of a metadata key: its string and the
// value-type tag that follows it.
func KeySize(key string) int64 { return StringSize(key) + 4 }

// StringSize is the encoded size of a string value: length and bytes.
func StringSize(s string) int64 { return 8 + int64(len(s)) }

// ArraySize is the encoded size of an array of n scalars of type elem.
func ArraySize(n int64, elem ValueType) int64 { return 4 + 8 + n*int64(elem.fixedSize()) }

// EncodedSize is the size of v as the Writer encodes it (after its type tag).
func (v Value) EncodedSize() int64 {
	switch x := v.V.(type) {
	case string:
		return StringSize(x)
	case Array:
		return x.encodedSize()
	}
	return int64(v.Type.fixedSize())
}

func (a Array) encodedSize() int64 {
	n := int64(4 + 8)
	switch d := a.Data.(type) {
	case []string:
		for _, s := range d {
			n += StringSize(s)
		}
	case []Array:
		for _, x := range d {
			n += x.encodedSize()
		}
	default:
		n += int64(a.Len()) * int64(a.Elem.fixedSize())
	}
	return n
}

// EncodedSize is the size of the key with its value.
func (kv KV) EncodedSize() int64 { return KeySize(kv.Key) + kv.Value.EncodedSize() }

// EncodedSize is the size of the tensor info in the header: name, dimension
// count, dimensions, type and offset.
func (t *TensorInfo) EncodedSize() int64 {
	return StringSize(t.Name) + 4 + 8*int64(len(t.Shape)) + 4 + 8
}
