package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// validate checks what the decoder cannot see key by key: ranges, references
// between keys, and conflicts between components.
func (c *Config) validate(d *decoder) {
	if c.DataDir == "" {
		d.fail("data_dir", "must not be empty")
	}
	if c.ShutdownGrace < 0 {
		d.fail("shutdown_grace", "must not be negative")
	}
	c.Spool.validate(d)
	if c.HTTP.Address != "" {
		checkHostPort(d, "http.address", c.HTTP.Address)
	}
	for _, name := range sortedKeys(c.Streams) {
		st := c.Streams[name]
		p := join("streams", name)
		if st.Partitions < 1 || st.Partitions > 4096 {
			d.fail(join(p, "partitions"), "must be between 1 and 4096, got %d", st.Partitions)
		}
	}
	c.validateStreams(d)
	l := listeners{}
	if c.HTTP.Address != "" {
		l.claim(d, "tcp", c.HTTP.Address, "http.address")
	}
	for _, name := range sortedKeys(c.Inputs) {
		c.Inputs[name].validate(d, join("inputs", name), l)
	}
	for _, name := range sortedKeys(c.Outputs) {
		c.Outputs[name].validate(d, join("outputs", name))
	}
}

func (s *Spool) validate(d *decoder) {
	if s.SegmentBytes <= 0 || s.SegmentBytes > 1<<30 {
		d.fail("spool.segment_bytes", "must be more than 0 and at most 1GiB, got %s", s.SegmentBytes)
	}
	if s.IndexInterval <= 0 {
		d.fail("spool.index_interval", "must be more than 0")
	}
	if s.SegmentAge <= 0 {
		d.fail("spool.segment_age", "must be more than 0")
	}
	if s.Fsync == "interval" && s.FsyncInterval <= 0 {
		d.fail("spool.fsync_interval", "must be more than 0 with fsync: interval")
	}
}

// validateStreams checks that every stream named is declared, and that every
// stream is both written and read: a stream nobody reads fills up, one nobody
// writes is a typo somewhere.
func (c *Config) validateStreams(d *decoder) {
	declared := map[string]bool{}
	for name := range c.Streams {
		declared[name] = true
	}
	written, read := map[string]bool{}, map[string]bool{}
	defaultNamed := false // an output lists the default stream by name
	for _, name := range sortedKeys(c.Inputs) {
		in := c.Inputs[name]
		if in.Type == "" || in.Settings() == nil {
			continue // already reported
		}
		if in.Stream != DefaultStream && !declared[in.Stream] {
			d.fail(join(join("inputs", name), "stream"), "stream %q is not declared under streams%s", in.Stream, didYouMean(in.Stream, sortedKeys(c.Streams)))
			continue
		}
		written[in.Stream] = true
	}
	for _, name := range sortedKeys(c.Outputs) {
		out := c.Outputs[name]
		if out.Settings() == nil {
			continue
		}
		if len(out.Streams) == 0 {
			for s := range declared {
				read[s] = true
			}
			read[DefaultStream] = true
			continue
		}
		for i, s := range out.Streams {
			if s != DefaultStream && !declared[s] {
				d.fail(fmt.Sprintf("outputs.%s.streams[%d]", name, i), "stream %q is not declared under streams%s", s, didYouMean(s, sortedKeys(c.Streams)))
				continue
			}
			read[s] = true
			defaultNamed = defaultNamed || s == DefaultStream
		}
	}
	all := map[string]bool{}
	for s := range declared {
		all[s] = true
	}
	if written[DefaultStream] || defaultNamed {
		all[DefaultStream] = true
	}
	for _, s := range sortedKeys(all) {
		p := join("streams", s)
		if !declared[s] {
			p = fmt.Sprintf("streams.%s (implicit)", s)
		}
		if !written[s] {
			d.fail(p, "no input writes to this stream")
		}
		if !read[s] {
			d.fail(p, "no output reads this stream, so it would only fill up")
		}
	}
}

func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

// listeners finds two components listening on one address or socket path.
type listeners map[string]string // "proto addr" -> key path of the first

func (l listeners) claim(d *decoder, proto, addr, path string) {
	if _, port, err := net.SplitHostPort(addr); proto != "unix" && err == nil && port == "0" {
		return // any free port: never a conflict
	}
	key := proto + " " + addr
	if proto == "unix" {
		key = proto + " " + filepath.Clean(addr)
	}
	if first, ok := l[key]; ok {
		d.fail(path, "%s is already used by %s", addr, first)
		return
	}
	l[key] = path
}

func (in *Input) validate(d *decoder, path string, l listeners) {
	switch s := in.Settings().(type) {
	case *FileInput:
		s.validate(d, path)
	case *TCPInput:
		s.SocketInput.validate(d, path, "tcp", l)
		s.StreamSocket.validate(d, path)
		s.TLS.validate(d, join(path, "tls"))
	case *UDPInput:
		s.SocketInput.validate(d, path, "udp", l)
	case *UnixInput:
		s.SocketInput.validate(d, path, "unix", l)
		s.StreamSocket.validate(d, path)
	case *UnixgramInput:
		s.SocketInput.validate(d, path, "unix", l)
	case *ForwardInput:
		if len(s.Listen) == 0 {
			d.fail(join(path, "listen"), "missing: give at least one host:port to listen on")
		}
		for i, a := range s.Listen {
			p := fmt.Sprintf("%s.listen[%d]", path, i)
			if checkHostPort(d, p, a) {
				l.claim(d, "tcp", a, p)
			}
		}
		s.TLS.validate(d, join(path, "tls"))
		positive(d, join(path, "max_frame_bytes"), int64(s.MaxFrameBytes))
		positive(d, join(path, "window_bytes"), int64(s.WindowBytes))
		positive(d, join(path, "max_connections"), int64(s.MaxConnections))
	}
}

func (f *FileInput) validate(d *decoder, path string) {
	if len(f.Include) == 0 {
		d.fail(join(path, "include"), "missing: give at least one glob of files to tail")
	}
	for key, globs := range map[string][]string{"include": f.Include, "exclude": f.Exclude} {
		for i, g := range globs {
			if _, err := filepath.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil {
				d.fail(fmt.Sprintf("%s.%s[%d]", path, key, i), "bad glob %q: %v", g, err)
			}
		}
	}
	if f.Multiline != nil {
		if f.Multiline.StartPattern == "" {
			d.fail(join(path, "multiline.start_pattern"), "missing: multiline needs a regular expression that starts a record")
		} else if _, err := regexp.Compile(f.Multiline.StartPattern); err != nil {
			d.fail(join(path, "multiline.start_pattern"), "bad regular expression: %v", err)
		}
	}
	positive(d, join(path, "max_line_bytes"), int64(f.MaxLineBytes))
	positive(d, join(path, "max_open_files"), int64(f.MaxOpenFiles))
	positive(d, join(path, "read_buffer_bytes"), int64(f.ReadBufferSize))
	positive(d, join(path, "fingerprint_bytes"), int64(f.FingerprintBytes))
	positive(d, join(path, "scan_interval"), int64(f.ScanInterval))
	positive(d, join(path, "poll_interval"), int64(f.PollInterval))
	positive(d, join(path, "positions_interval"), int64(f.PositionsInterval))
}

func (s *SocketInput) validate(d *decoder, path, proto string, l listeners) {
	if len(s.Listen) == 0 {
		what := "host:port"
		if proto == "unix" {
			what = "socket path"
		}
		d.fail(join(path, "listen"), "missing: give at least one %s to listen on", what)
	}
	for i, a := range s.Listen {
		p := fmt.Sprintf("%s.listen[%d]", path, i)
		if proto == "unix" {
			if a == "" {
				d.fail(p, "must not be empty")
				continue
			}
			l.claim(d, proto, a, p)
		} else if checkHostPort(d, p, a) {
			l.claim(d, proto, a, p)
		}
	}
	positive(d, join(path, "max_message_bytes"), int64(s.MaxMessageBytes))
	positive(d, join(path, "batch_bytes"), int64(s.BatchBytes))
}

func (s *StreamSocket) validate(d *decoder, path string) {
	positive(d, join(path, "max_connections"), int64(s.MaxConnections))
}

func (t *ServerTLS) validate(d *decoder, path string) {
	if t == nil {
		return
	}
	if t.CertFile == "" {
		d.fail(join(path, "cert_file"), "missing: a TLS listener needs a certificate")
	}
	if t.KeyFile == "" {
		d.fail(join(path, "key_file"), "missing: a TLS listener needs a private key")
	}
	readable(d, join(path, "cert_file"), t.CertFile)
	readable(d, join(path, "key_file"), t.KeyFile)
	readable(d, join(path, "client_ca_file"), t.ClientCAFile)
}

func (t *ClientTLS) validate(d *decoder, path string) {
	if t == nil {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		d.fail(path, "cert_file and key_file go together (both for mTLS, or neither)")
	}
	readable(d, join(path, "ca_file"), t.CAFile)
	readable(d, join(path, "cert_file"), t.CertFile)
	readable(d, join(path, "key_file"), t.KeyFile)
}

func (o *Output) validate(d *decoder, path string) {
	switch s := o.Settings().(type) {
	case *ForwardOutput:
		if len(s.Endpoints) == 0 {
			d.fail(join(path, "endpoints"), "missing: give at least one host:port of a capstan peer")
		}
		for i, e := range s.Endpoints {
			checkHostPort(d, fmt.Sprintf("%s.endpoints[%d]", path, i), e)
		}
		s.TLS.validate(d, join(path, "tls"))
		s.Backoff.validate(d, join(path, "backoff"))
		positive(d, join(path, "max_frame_bytes"), int64(s.MaxFrameBytes))
	case *StdoutOutput:
		s.Delivery.validate(d, path)
	case *FileOutput:
		if s.Path == "" {
			d.fail(join(path, "path"), "missing: give the file to write")
		}
		positive(d, join(path, "max_files"), int64(s.MaxFiles))
	case *TCPOutput:
		if s.Address == "" {
			d.fail(join(path, "address"), "missing: give the host:port to send lines to")
		} else {
			checkHostPort(d, join(path, "address"), s.Address)
		}
	}
	seen := map[string]bool{}
	for i, st := range o.Streams {
		if seen[st] {
			d.fail(fmt.Sprintf("%s.streams[%d]", path, i), "stream %q is listed twice", st)
		}
		seen[st] = true
	}
}

func (dl *Delivery) validate(d *decoder, path string) {
	positive(d, join(path, "commit_interval"), int64(dl.CommitInterval))
	positive(d, join(path, "read_bytes"), int64(dl.ReadBytes))
}

func (b *Backoff) validate(d *decoder, path string) {
	positive(d, join(path, "initial"), int64(b.Initial))
	if b.Max < b.Initial {
		d.fail(join(path, "max"), "must be at least backoff.initial (%s)", b.Initial)
	}
}

func positive(d *decoder, path string, n int64) {
	if n <= 0 {
		d.fail(path, "must be more than 0")
	}
}

func checkHostPort(d *decoder, path, addr string) bool {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		d.fail(path, "%q is not host:port (write e.g. 127.0.0.1:5170 or :5170)", addr)
		return false
	}
	return true
}

func readable(d *decoder, path, file string) {
	if file == "" {
		return
	}
	// Stat first: opening a FIFO or a device could block validation.
	st, err := os.Stat(file)
	if err == nil && !st.Mode().IsRegular() {
		d.fail(path, "%s is not a regular file", file)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		d.fail(path, "cannot read %s: %v", file, unwrapPathError(err))
		return
	}
	f.Close()
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
