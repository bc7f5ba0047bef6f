package process

import "unsafe"

// Boxes let the expression environment hand a record's values to the
// expression VM without allocating per record.
//
// The VM reads its variables from a map[string]any. Storing a string, an int
// or a float64 in an interface allocates a copy of the value on the heap
// each time. A box is instead an interface value made once, whose data word
// points to a variable the runner owns: setting the variable changes what
// the interface holds. This is sound because the pointee is an ordinary heap
// object of exactly the interface's dynamic type (what the runtime's own
// conversion would have allocated), written only between evaluations, never
// while the VM runs, and no interface taken from a box outlives one
// evaluation (results are copied into the record before the next one).

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func makeBox(typ, data unsafe.Pointer) any {
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: typ, data: data}
	return v
}

// strBox is an interface holding a string that can be changed in place.
type strBox struct {
	p *string
	v any
}

func newStrBox() strBox {
	p := new(string)
	return strBox{p: p, v: makeBox(typeWord(""), unsafe.Pointer(p))}
}

// setBytes points the box at b without copying; b must not change while an
// evaluation that sees the box runs.
func (b strBox) setBytes(v []byte) { *b.p = unsafe.String(unsafe.SliceData(v), len(v)) }

type intBox struct {
	p *int
	v any
}

func newIntBox() intBox {
	p := new(int)
	return intBox{p: p, v: makeBox(typeWord(0), unsafe.Pointer(p))}
}

type floatBox struct {
	p *float64
	v any
}

func newFloatBox() floatBox {
	p := new(float64)
	return floatBox{p: p, v: makeBox(typeWord(0.0), unsafe.Pointer(p))}
}

// bytesOf views s as bytes without copying; the bytes must not be written.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// stringOf views b as a string without copying; b must not change while the
// string is in use.
func stringOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
