package esfake_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/capstan-agent/capstan/shipper/elasticsearch/esfake"
)

// A replayed create is a 409 and the index still holds one document; the
// second request also meets a scripted 429 on its only item.
func Example() {
	f, err := esfake.New(esfake.Options{})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer f.Close()
	body := "{\"create\":{\"_index\":\"logs\",\"_id\":\"a\"}}\n{\"message\":\"hi\"}\n"
	for range 2 {
		resp, err := http.Post(srv.URL+"/_bulk", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	f.Script(esfake.Fault{Items: map[int]esfake.ItemFault{0: esfake.Reject429}})
	resp, _ := http.Post(srv.URL+"/_bulk", "application/x-ndjson", strings.NewReader(strings.ReplaceAll(body, `"a"`, `"b"`)))
	resp.Body.Close()
	st := f.Stats()
	fmt.Println(f.DocCount("logs"), st.Conflicts, st.ItemsByStatus[429])
	// Output: 1 1 1
}
