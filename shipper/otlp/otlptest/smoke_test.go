package otlptest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

var update = flag.Bool("update", false, "rewrite golden files")

// One record with every kind of value goes to the Collector's receiver in
// every encoding, straight and through each front, and arrives intact.
func TestEveryEncodingReachesTheReceiver(t *testing.T) {
	r := Start(t, Options{})
	hf := NewHTTPFront(t, r.HTTPAddr, nil)
	gf := NewGRPCFront(t, r.GRPCAddr, nil)
	pb := protoBody(t, richRequest())
	js := readFile(t, "testdata/one-record.json")

	type tc struct {
		name      string
		httpURL   string // an HTTP case when set
		ctype     string
		body      []byte
		grpcAddr  string // a gRPC case when set
		encoding  string // Content-Encoding or gRPC compressor
		exchanges func() []Exchange
	}
	var cases []tc
	for _, enc := range []string{"", "gzip", "zstd"} {
		cases = append(cases,
			tc{name: "http protobuf " + enc, httpURL: r.HTTPURL(), ctype: "application/x-protobuf", body: pb, encoding: enc},
			tc{name: "http json " + enc, httpURL: r.HTTPURL(), ctype: "application/json", body: js, encoding: enc},
			tc{name: "grpc " + enc, grpcAddr: r.GRPCAddr, encoding: enc},
			tc{name: "front http protobuf " + enc, httpURL: hf.LogsURL(), ctype: "application/x-protobuf", body: pb, encoding: enc, exchanges: hf.Exchanges},
			tc{name: "front http json " + enc, httpURL: hf.LogsURL(), ctype: "application/json; charset=utf-8", body: js, encoding: enc, exchanges: hf.Exchanges},
			tc{name: "front grpc " + enc, grpcAddr: gf.Addr, encoding: enc, exchanges: gf.Exchanges},
		)
	}
	for i, c := range cases {
		if c.httpURL != "" {
			res := post(t, c.httpURL, c.ctype, c.encoding, c.body, waitFor)
			if res.err != nil || res.status != 200 {
				t.Fatalf("%s: status %d, err %v, body %q", c.name, res.status, res.err, res.body)
			}
		} else {
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "secret-1")
			var opts []grpc.CallOption
			if c.encoding != "" {
				opts = append(opts, grpc.UseCompressor(c.encoding))
			}
			resp, err := grpcClient(t, c.grpcAddr).Export(ctx, richRequest(), opts...)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if resp.GetPartialSuccess().GetRejectedLogRecords() != 0 {
				t.Fatalf("%s: partial success %v", c.name, resp.GetPartialSuccess())
			}
		}
		recs := r.Wait(i+1, waitFor)
		sameRecords(t, c.name+": received", recs[i:], []Record{richRecord})
		reqs := r.Requests()
		if got := reqs[i].Headers["x-api-key"]; !slices.Equal(got, []string{"secret-1"}) {
			t.Errorf("%s: the receiver saw x-api-key %q", c.name, got)
		}
		if reqs[i].Request != i+1 || recs[i].Request != i+1 {
			t.Errorf("%s: request number %d, record's %d, want %d", c.name, reqs[i].Request, recs[i].Request, i+1)
		}
		if i == 0 {
			checkGoldenLine(t, r)
		}
		if c.exchanges == nil {
			continue
		}
		exs := c.exchanges()
		ex := exs[len(exs)-1]
		sameRecords(t, c.name+": seen by the front", ex.Records, []Record{richRecord})
		sameRecords(t, c.name+": forwarded", ex.Forwarded, []Record{richRecord})
		if ex.Compression != c.encoding || !ex.Acked || ex.DecodeErr != "" {
			t.Errorf("%s: exchange compression %q acked %v decode error %q", c.name, ex.Compression, ex.Acked, ex.DecodeErr)
		}
	}
	if n := r.Count(); n != len(cases) {
		t.Errorf("receiver counted %d records, want %d", n, len(cases))
	}
}

// The receiver stays the judge of what is valid: a front forwards what it
// cannot decode, and the receiver refuses it.
func TestFrontForwardsWhatItCannotDecode(t *testing.T) {
	r := Start(t, Options{NoGRPC: true})
	hf := NewHTTPFront(t, r.HTTPAddr, nil)
	res := post(t, hf.LogsURL(), "application/json", "", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not hex"}]}]}]}`), waitFor)
	if res.err != nil || res.status != 400 {
		t.Fatalf("status %d, err %v, want the receiver's 400", res.status, res.err)
	}
	ex := hf.Exchanges()[0]
	if ex.DecodeErr == "" || ex.Records != nil || ex.Acked || ex.Status != 400 {
		t.Errorf("exchange %+v, want a decode error, no records, not acked, status 400", ex)
	}
	if r.GRPCAddr != "" {
		t.Errorf("gRPC is off but the receiver says it listens on %q", r.GRPCAddr)
	}
}

// A killed receiver comes back on the same address and its records stay.
func TestReceiverRestart(t *testing.T) {
	r := Start(t, Options{})
	client := grpcClient(t, r.GRPCAddr)
	if _, err := client.Export(context.Background(), lines(1, 4)); err != nil {
		t.Fatal(err)
	}
	r.Wait(4, waitFor)
	addr, pid := r.HTTPAddr, r.PID()
	r.Kill()
	if res := post(t, r.HTTPURL(), "application/x-protobuf", "", protoBody(t, lines(5, 2)), waitFor); res.err == nil {
		t.Fatalf("a killed receiver answered %d", res.status)
	}
	r.Restart()
	if r.HTTPAddr != addr || r.PID() == pid {
		t.Fatalf("restarted at %s pid %d, was %s pid %d", r.HTTPAddr, r.PID(), addr, pid)
	}
	if res := post(t, r.HTTPURL(), "application/x-protobuf", "", protoBody(t, lines(5, 2)), waitFor); res.status != 200 {
		t.Fatalf("after restart: status %d err %v", res.status, res.err)
	}
	recs := r.Wait(6, waitFor)
	sameRecords(t, "across the restart", recs, append(RecordsOf(lines(1, 4), 0), RecordsOf(lines(5, 2), 0)...))
	if reqs := r.Requests(); len(reqs) != 2 || reqs[1].Request != 2 {
		t.Errorf("requests %+v, want numbers 1 and 2", reqs)
	}
}

// checkGoldenLine pins the receiver's line format with the first record line.
func checkGoldenLine(t *testing.T, r *Receiver) {
	t.Helper()
	const golden = "testdata/rich-record.golden.jsonl"
	data, err := os.ReadFile(r.out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) < 2 {
		t.Fatalf("receiver output %q has no record line", data)
	}
	got := lines[1]
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the receiver's record line changed (go test -update rewrites %s):\n got %s\nwant %s", golden, got, want)
	}
}
