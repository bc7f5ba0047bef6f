package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/component/kafkaconf"
	"github.com/capstan-agent/capstan/component/tlsconf"
	"github.com/capstan-agent/capstan/inputs/file"
	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	kafkain "github.com/capstan-agent/capstan/inputs/kafka"
	"github.com/capstan-agent/capstan/inputs/socket"
	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/shipper/elasticsearch"
	fwdout "github.com/capstan-agent/capstan/shipper/forward"
	"github.com/capstan-agent/capstan/shipper/httpc"
	"github.com/capstan-agent/capstan/shipper/httpout"
	kafkaout "github.com/capstan-agent/capstan/shipper/kafka"
	"github.com/capstan-agent/capstan/shipper/lines"
	"github.com/capstan-agent/capstan/shipper/loki"
	"github.com/capstan-agent/capstan/shipper/otlp"
)

func loadYAML(t *testing.T, yaml string, environ ...string) (*config.Loaded, error) {
	t.Helper()
	return config.Load(config.Options{YAML: []byte(yaml), Environ: environ, Registry: registry(io.Discard)})
}

func TestValidExamples(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/config/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no valid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := config.Load(config.Options{Path: f, Environ: []string{"CAPSTAN_TEST_DATA_DIR=" + t.TempDir()}, Registry: registry(io.Discard)}); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestEmbeddedDefault(t *testing.T) {
	l, err := config.Load(config.Options{Environ: []string{"XDG_STATE_HOME=/state"}, Registry: registry(io.Discard)})
	if err != nil {
		t.Fatalf("embedded default does not load: %v", err)
	}
	if l.DataDir != "/state/capstan" {
		t.Errorf("data_dir = %q, want /state/capstan", l.DataDir)
	}
	if in, ok := l.Inputs["varlog"].Settings.(*file.Config); !ok || in.Include[0] != "/var/log/**/*.log" || in.StartAt != "end" {
		t.Errorf("varlog input = %+v", l.Inputs["varlog"].Settings)
	}
	if in, ok := l.Inputs["local_tcp"].Settings.(*socket.TCPConfig); !ok || in.Listen[0] != "127.0.0.1:5170" {
		t.Errorf("local_tcp input = %+v", l.Inputs["local_tcp"].Settings)
	}
	if _, ok := l.Outputs["console"].Settings.(*lines.StdoutConfig); !ok {
		t.Errorf("console output = %+v", l.Outputs["console"])
	}
}

func TestDefaultsApplied(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	l, err := loadYAML(t, `
data_dir: `+dir+`
inputs:
  in: {type: tcp, listen: [":1"], tls: {cert_file: `+cert+`, key_file: `+key+`}}
outputs:
  out: {type: forward, endpoints: ["x:1"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	in := l.Inputs["in"]
	tcp := in.Settings.(*socket.TCPConfig)
	if in.Stream != "default" || tcp.Framing != "auto" || tcp.MaxMessageBytes != 64<<10 || tcp.TLS.MinVersion != "1.2" ||
		tcp.Linger != socket.DefaultLinger || tcp.IdleTimeout != 5*time.Minute {
		t.Errorf("input defaults not applied: %+v %+v", in, tcp)
	}
	out := l.Outputs["out"].Settings.(*fwdout.OutputConfig)
	if out.Backoff.Max != 5*time.Second || out.DrainTimeout != 5*time.Second || l.Outputs["out"].StartAt != "oldest" {
		t.Errorf("output defaults not applied: %+v", out)
	}
	if l.Spool.SegmentBytes != 64<<20 || l.Spool.Fsync != "interval" || l.ShutdownGrace.D() != 30*time.Second {
		t.Errorf("spool defaults not applied: %+v", l.Spool)
	}
}

// TestLayers: the file, then CAPSTAN_* variables, then flags; ${VAR} anywhere.
func TestLayers(t *testing.T) {
	yaml := []byte(`
data_dir: ${DIR:-/from/default}
log: {level: info}
spool: {fsync: never}
inputs:
  in: {type: udp, listen: ["127.0.0.1:${PORT}"]}
outputs:
  out: {type: stdout}
`)
	env := []string{
		"PORT=9000",
		"CAPSTAN_SPOOL__FSYNC=always",
		"CAPSTAN_SPOOL__SEGMENT_BYTES=1MiB",
		"CAPSTAN_LOG__LEVEL=warn",
		"CAPSTAN_INPUTS__IN__LISTEN=127.0.0.1:1,127.0.0.1:2",
		"CAPSTAN_SOAK=1",   // not a config key: left alone
		"CAPSTAN_CONFIG=x", // likewise
	}
	reg := registry(io.Discard)
	l, err := config.Load(config.Options{YAML: yaml, Environ: env, Registry: reg,
		Overrides: []config.Override{{Key: "log.level", Value: "debug", Origin: "--log-level"}}})
	if err != nil {
		t.Fatal(err)
	}
	if l.DataDir != "/from/default" {
		t.Errorf("data_dir = %q", l.DataDir)
	}
	if l.Spool.Fsync != "always" || l.Spool.SegmentBytes != 1<<20 {
		t.Errorf("env did not override spool: %+v", l.Spool)
	}
	if l.Log.Level != "debug" {
		t.Errorf("flag did not override env: level %q", l.Log.Level)
	}
	if got := l.Inputs["in"].Settings.(*socket.UDPConfig).Listen; !reflect.DeepEqual(got, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Errorf("env list = %q", got)
	}
	_, err = config.Load(config.Options{YAML: yaml, Environ: []string{"PORT=1", "CAPSTAN_SPOOL__FSYNC=sometimes"}, Registry: reg})
	if err == nil || !strings.Contains(err.Error(), `spool.fsync: "sometimes" is not one of never, interval, always (set by CAPSTAN_SPOOL__FSYNC)`) {
		t.Errorf("env error does not name its variable: %v", err)
	}
}

// TestValidateRefusesWhatRunRefuses: each configuration here was accepted
// by `capstan validate` and refused by `capstan run` before components owned
// their configuration; every check a component makes now runs at load, and
// names the key.
func TestValidateRefusesWhatRunRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct{ yaml, want string }{
		{"inputs:\n  g: {type: file, include: [\"logs/*.log\"]}\n", `inputs.g.include[0]: "logs/*.log" is not an absolute path`},
		{"inputs:\n  g: {type: file, include: [\"/l/*.log\"], max_line_bytes: 16MiB}\n", `inputs.g.max_line_bytes: 16MiB is over the limit of 8MiB`},
		{"streams: {x: {partitions: 2000}}\ninputs:\n  g: {type: file, include: [\"/l/*\"], stream: x}\n", `streams.x.partitions: must be between 1 and 1024, got 2000`},
		{"spool: {segment_bytes: 512}\ninputs:\n  g: {type: file, include: [\"/l/*\"]}\n", `spool.segment_bytes: must be at least 1KiB`},
		{"inputs:\n  g: {type: tcp, listen: [\"127.0.0.1:5170\"]}\n  h: {type: tcp, listen: [\":5170\"]}\n", `inputs.h.listen[0]: tcp :5170 is already used by inputs.g.listen[0] (127.0.0.1:5170)`},
		{"inputs:\n  g: {type: tcp, listen: [\"127.0.0.1:99999\"]}\n", `inputs.g.listen[0]: "127.0.0.1:99999": port "99999" is not a port number`},
		{"inputs:\n  g: {type: tcp, listen: [\":1\"], tls: {cert_file: " + notPEM + ", key_file: " + notPEM + "}}\n", `inputs.g.tls.cert_file: ` + notPEM + ` holds no PEM block of type CERTIFICATE`},
		{"inputs:\n  g: {type: tcp, listen: [\":1\"], batch_bytes: 10}\n", `inputs.g.batch_bytes: must be between 1024 and 33554432, got 10`},
		{"inputs:\n  g: {type: forward, listen: [\":1\"], idle_timeout: 1ms}\n", `inputs.g.idle_timeout: must be between 30ms and 3h`},
		{"inputs:\n  g: {type: forward, listen: [\":1\"], max_frame_bytes: 10}\n", `inputs.g.max_frame_bytes: must be between`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: forward, endpoints: [\"a:1\", \"a:1\"]}\n", `outputs.o.endpoints[1]: endpoint "a:1" is listed twice`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: forward, endpoints: [\"a:1\"], max_frame_bytes: 100}\n", `outputs.o.max_frame_bytes: must be between 4096`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:0\"}\n", `outputs.o.address: "a:0": port "0" is not a port number`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"], multiline: {flush_timeout: 1s}}\n", `inputs.g.multiline.start_pattern: missing`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", streams: [default], dead_letter: {stream: dlq}}\n", `outputs.o.dead_letter.stream: stream "dlq" is not declared under streams`},
		{"streams: {dlq: {}}\ninputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", dead_letter: {stream: dlq}}\n", `outputs.o.dead_letter.stream: the output reads every stream, this one too: list its streams`},
		{"streams: {dlq: {}}\ninputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", streams: [default, dlq], dead_letter: {stream: dlq}}\n", `outputs.o.dead_letter.stream: the output reads stream "dlq" itself`},
		{"streams: {dlq: {}}\ninputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", streams: [default], dead_letter: {stream: dlq}}\n", `streams.dlq: no output reads this stream`},
		{"inputs:\n  g: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", retry: {initial: 1s, max: 10ms}, batch: {max_records: 0}}\n", `outputs.o.retry.max: must be at least retry.initial (1s)`},
		{"inputs:\n  g: {type: file, include: [\"/var/log/*.log\"]}\noutputs:\n  o: {type: tcp, address: \"a:1\", dead_letter: {path: /var/log/dead.log}}\n", `outputs.o.path: /var/log/dead.log is read again by inputs.g`},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092\"], topics: [logs], sasl: {mechanism: PLAIN}}\n", `inputs.g.sasl.username: missing: the SASL user name`},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092,k2\"], topics: [logs]}\n", `inputs.g.brokers[0]: "k2" is not host:port`},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092\"], topics_regex: \"(\"}\n", `inputs.g.topics_regex: `},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092\"], topics: [logs], topics_regex: \"x\"}\n", `inputs.g.topics_regex: give topics or topics_regex, not both`},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092\"], topics: [\"a b\"]}\n", `inputs.g.topics[0]: "a b" is not a Kafka topic name`},
		{"inputs:\n  g: {type: kafka, brokers: [\"k:9092\"], topics: [logs], groop: x}\n", `inputs.g.groop: unknown key; did you mean "group"?`},
	} {
		yaml := "data_dir: " + dir + "\n" + tc.yaml
		if !strings.Contains(yaml, "outputs:") {
			yaml += "outputs:\n  o: {type: stdout}\n"
		}
		_, err := loadYAML(t, yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\ngot:  %v\nwant: %s", tc.yaml, err, tc.want)
		}
	}
}

// TestEveryTypeDecodesItsDefaults: a section with only a type (and its
// required keys) loads for every registered type, and the decoded Config is
// the type's own.
func TestEveryTypeDecodesItsDefaults(t *testing.T) {
	reg := registry(io.Discard)
	required := map[string]string{
		"file": `include: ["/l/*"]`, "tcp": `listen: [":0"]`, "udp": `listen: [":0"]`,
		"unix": `listen: [/tmp/x.sock]`, "unixgram": `listen: [/tmp/y.sock]`, "forward": `listen: [":0"]`,
		"kafka": `brokers: ["k:9092"], topics: [logs]`,
	}
	for _, typ := range reg.Types(component.KindInput) {
		yaml := "data_dir: /tmp/x\ninputs:\n  i: {type: " + typ + ", " + required[typ] + "}\noutputs:\n  o: {type: stdout}\n"
		l, err := loadYAML(t, yaml)
		if err != nil {
			t.Errorf("input %s: %v", typ, err)
			continue
		}
		f, _ := reg.InputFactory(typ)
		if reflect.TypeOf(l.Inputs["i"].Settings) != reflect.TypeOf(f.NewConfig()) {
			t.Errorf("input %s decoded into %T", typ, l.Inputs["i"].Settings)
		}
	}
	outRequired := map[string]string{"forward": `endpoints: ["a:1"]`, "tcp": `address: "a:1"`, "file": `path: /tmp/out`,
		"otlp": `endpoint: "http://c:4318"`, "http": `url: "http://c/in"`, "elasticsearch": `endpoints: ["http://es:9200"]`,
		"loki": `endpoint: "http://loki:3100"`, "kafka": `brokers: ["k:9092"], topic: logs`}
	for _, typ := range reg.Types(component.KindOutput) {
		yaml := "data_dir: /tmp/x\ninputs:\n  i: {type: file, include: [\"/l/*\"]}\noutputs:\n  o: {type: " + typ + ", " + outRequired[typ] + "}\n"
		if _, err := loadYAML(t, strings.Replace(yaml, ", }", "}", 1)); err != nil {
			t.Errorf("output %s: %v", typ, err)
		}
	}
}

// docSections are the tables of docs/configuration.md, each documenting the
// keys of some Config sections (embedded structs flattened), defaults applied.
func docSections() map[string][]any {
	return map[string][]any{
		"top":                       {&config.Config{}},
		"log":                       {&config.Log{}},
		"http":                      {&config.HTTP{}},
		"spool":                     {&config.Spool{}},
		"streams":                   {&config.Stream{}},
		"inputs":                    {&config.Input{}},
		"input file":                {&file.Config{}},
		"input multiline":           {&file.MultilineConfig{}},
		"input tcp":                 {&socket.TCPConfig{}},
		"input udp":                 {&socket.UDPConfig{}},
		"input unix":                {&socket.UnixConfig{}},
		"input unixgram":            {&socket.UnixgramConfig{}},
		"input forward":             {&fwdin.InputConfig{}},
		"input tls":                 {&tlsconf.Server{}},
		"outputs":                   {&config.Output{}},
		"output forward":            {&fwdout.OutputConfig{}},
		"output stdout":             {&lines.StdoutConfig{}},
		"output file":               {&lines.FileConfig{}},
		"output tcp":                {&lines.TCPConfig{}},
		"output tls":                {&tlsconf.Client{}},
		"output backoff":            {&fwdout.Backoff{}},
		"output batch":              {&delivery.Batch{}},
		"output retry":              {&delivery.RetryConfig{}},
		"output dead_letter":        {&delivery.DeadLetter{}},
		"output otlp":               {&otlp.Config{}},
		"output http":               {&httpout.Config{}},
		"output elasticsearch":      {&elasticsearch.Config{}},
		"output elasticsearch auth": {&elasticsearch.Auth{}},
		"output api_key":            {&elasticsearch.APIKey{}},
		"output auth":               {&httpc.Auth{}},
		"output basic":              {&httpc.Basic{}},
		"output bearer":             {&httpc.Bearer{}},
		"output header":             {&httpc.AuthHeader{}},
		"output loki":               {&loki.Config{}},
		"output kafka":              {&kafkaout.Config{}},
		"output sasl":               {&kafkaconf.SASL{}},
		"input kafka":               {&kafkain.Config{}},
		"input kafka tls":           {&tlsconf.Client{}},
		"input sasl":                {&kafkaconf.SASL{}},
	}
}

// TestDocInStep keeps docs/configuration.md in step with the Configs: every
// key of every section is documented with its default and, for
// enumerations, every value; and the document lists no key the code does
// not know. Every registered type has its section.
func TestDocInStep(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := docSections()
	reg := registry(io.Discard)
	for _, k := range []component.Kind{component.KindInput, component.KindOutput} {
		for _, typ := range reg.Types(k) {
			if _, ok := sections[string(k)+" "+typ]; !ok {
				t.Errorf("%s type %s has no section in docSections (and docs/configuration.md)", k, typ)
			}
		}
	}
	computed := map[string]bool{"top.data_dir": true}
	for _, p := range conf.CheckDoc(string(b), sections, computed) {
		t.Error(p)
	}
}

// FuzzLoad: no YAML, however hostile, panics the loader; what it accepts
// is a configuration that loads again to the same result.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"", "{}", "inputs: {a: {type: file, include: [/x]}}\noutputs: {o: {type: stdout}}",
		"spool: {segment_bytes: 1GiB, fsync: always}", "streams: {s: {partitions: 99999999999999999999}}",
		"inputs: [1, 2]", "inputs: {a: {type: [x]}}", "log: ${X:-y}", "shutdown_grace: -5s",
		"outputs: {o: {type: forward, endpoints: [\"a:1\"], tls: {cert_file: /nonexistent}}}",
		"inputs: {u: {type: unix, listen: [/a, /a], socket_mode: 99999}}", "? [a]\n: b",
		"inputs: {a: {type: file, include: [/x], multiline: {}}}",
	} {
		f.Add(s)
	}
	reg := registry(io.Discard)
	f.Fuzz(func(t *testing.T, yaml string) {
		l, err := config.Load(config.Options{YAML: []byte(yaml), Environ: []string{"X=1"}, Registry: reg})
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !config.IsInvalid(err) {
				t.Errorf("a multi-line error that is not a list of problems: %q", err)
			}
			return
		}
		if l.DataDir == "" || l.Spool.SegmentBytes <= 0 {
			t.Errorf("accepted config without defaults: %+v", l.Config)
		}
		again, err := config.Load(config.Options{YAML: []byte(yaml), Environ: []string{"X=1"}, Registry: reg})
		if err != nil || !reflect.DeepEqual(again.Config, l.Config) {
			t.Errorf("loading twice differs: %v", err)
		}
	})
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}
