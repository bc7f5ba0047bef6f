package lokifake_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/capstan-agent/capstan/shipper/loki/lokifake"
)

// A JSON push, then the same push again: the replay is dropped as a
// duplicate and the stream holds each line once.
func Example() {
	f, err := lokifake.New(lokifake.Options{})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer f.Close()
	ts := time.Now().Add(-time.Minute).UnixNano()
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"web"},"values":[["%d","GET /"],["%d","GET /health"]]}]}`, ts, ts+1)
	for range 2 {
		resp, err := http.Post(srv.URL+"/loki/api/v1/push", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println(f.Lines("fake", `{app="web"}`), f.Stats().Duplicates)
	// Output:
	// 204
	// 204
	// [GET / GET /health] 2
}
