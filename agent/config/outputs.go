package config

// Output is one entry of outputs: the keys every output has, and the keys of
// its type in exactly one of the typed fields (the one Type names).
type Output struct {
	Type    string   `koanf:"type"`
	Streams []string `koanf:"streams"` // empty: every stream
	StartAt string   `koanf:"start_at" enum:"oldest,newest"`

	Forward *ForwardOutput `koanf:"-"`
	Stdout  *StdoutOutput  `koanf:"-"`
	File    *FileOutput    `koanf:"-"`
	TCP     *TCPOutput     `koanf:"-"`
}

func (o *Output) defaults() { o.StartAt = "oldest" }

var outputTypes = map[string]func(*Output) any{
	"forward": func(o *Output) any { o.Forward = &ForwardOutput{}; return o.Forward },
	"stdout":  func(o *Output) any { o.Stdout = &StdoutOutput{}; return o.Stdout },
	"file":    func(o *Output) any { o.File = &FileOutput{}; return o.File },
	"tcp":     func(o *Output) any { o.TCP = &TCPOutput{}; return o.TCP },
}

// OutputTypes lists the output types the schema knows, sorted.
func OutputTypes() []string { return sortedKeys(outputTypes) }

// Settings is the typed part of the output (*ForwardOutput, ...), or nil.
func (o *Output) Settings() any {
	switch {
	case o.Forward != nil:
		return o.Forward
	case o.Stdout != nil:
		return o.Stdout
	case o.File != nil:
		return o.File
	case o.TCP != nil:
		return o.TCP
	}
	return nil
}

// Delivery holds the keys every output that reads the spool has.
type Delivery struct {
	CommitInterval Duration `koanf:"commit_interval"`
	ReadBytes      Size     `koanf:"read_bytes"`
}

func (d *Delivery) defaults() {
	d.CommitInterval = Duration(1e9)
	d.ReadBytes = 1 << 20
}

// Backoff bounds the retries of an output that cannot deliver: it retries
// forever, waiting Initial, then up to Max, with jitter.
type Backoff struct {
	Initial Duration `koanf:"initial"`
	Max     Duration `koanf:"max"`
}

func (b *Backoff) defaults() { b.Initial, b.Max = Duration(100e6), Duration(5e9) }

// ForwardOutput ships batches to capstan peers with the forward protocol.
type ForwardOutput struct {
	Endpoints      []string   `koanf:"endpoints"`
	Balance        string     `koanf:"balance" enum:"failover,partition"`
	Token          string     `koanf:"token"`
	TLS            *ClientTLS `koanf:"tls"`
	MaxFrameBytes  Size       `koanf:"max_frame_bytes"`
	ConnectTimeout Duration   `koanf:"connect_timeout"`
	DrainTimeout   Duration   `koanf:"drain_timeout"`
	Backoff        Backoff    `koanf:"backoff"`
}

func (f *ForwardOutput) defaults() {
	f.Balance = "failover"
	f.MaxFrameBytes = 1 << 20
	f.ConnectTimeout = Duration(5e9)
	f.DrainTimeout = Duration(5e9)
}

// LineEncoding holds the keys of outputs that re-encode records as lines.
type LineEncoding struct {
	Encoding string `koanf:"encoding" enum:"raw,ndjson"`
}

func (l *LineEncoding) defaults() { l.Encoding = "raw" }

// StdoutOutput prints records on standard output.
type StdoutOutput struct {
	Delivery     `koanf:",squash"`
	LineEncoding `koanf:",squash"`
}

// FileOutput writes records to a file, rotated by size.
type FileOutput struct {
	LineEncoding `koanf:",squash"`
	Path         string `koanf:"path"`
	MaxBytes     Size   `koanf:"max_bytes"`
	MaxFiles     int    `koanf:"max_files"`
}

func (f *FileOutput) defaults() { f.MaxBytes = 100 << 20; f.MaxFiles = 5 }

// TCPOutput sends records as lines over TCP.
type TCPOutput struct {
	LineEncoding   `koanf:",squash"`
	Address        string   `koanf:"address"`
	ConnectTimeout Duration `koanf:"connect_timeout"`
}

func (t *TCPOutput) defaults() { t.ConnectTimeout = Duration(5e9) }

// ClientTLS is TLS for a connection to a peer; CertFile and KeyFile for mTLS.
type ClientTLS struct {
	CAFile             string `koanf:"ca_file"`
	CertFile           string `koanf:"cert_file"`
	KeyFile            string `koanf:"key_file"`
	ServerName         string `koanf:"server_name"`
	InsecureSkipVerify bool   `koanf:"insecure_skip_verify"`
}
