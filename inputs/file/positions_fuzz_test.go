package file

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodePositions: no positions file, however damaged, panics the
// decoder or gives an entry an input could index out of range with; what
// decodes encodes and decodes again to the same.
func FuzzDecodePositions(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"input":"app","files":[{"path":"/a.log","id":{"dev":1,"ino":2},"fingerprint":{"n":10,"sum":7},"generation":0,"producer":9,"partition":1,"offset":100,"spool_next":5}]}`,
		`{"version":1,"input":"app","files":[],"retired":[{"fingerprint":{"n":3,"sum":1},"producer":2,"partition":0,"offset":4,"at":5}]}`,
		`{"version":2}`, `{"version":1,"files":[{"partition":-1}]}`, `{"version":1,"files":[{"offset":-5}]}`, `[]`, ``, `{"version":1,"files":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePositions(b)
		if err != nil {
			return
		}
		for _, e := range p.Files {
			if e.Partition < 0 || e.Offset < 0 {
				t.Fatalf("decoded an entry no input writes: %+v", e)
			}
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodePositions(again)
		if err != nil {
			t.Fatalf("what decoded does not decode again: %v\n%s", err, again)
		}
		if third, _ := json.Marshal(q); !reflect.DeepEqual(again, third) { // nil and empty lists are one
			t.Fatalf("round trip:\n%s\n%s", again, third)
		}
	})
}
