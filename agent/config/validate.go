package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/inputs/process"
	"github.com/capstan-agent/capstan/spool"
	"go.uber.org/zap"
)

// validate checks what no single component can: the agent's own keys,
// references to streams, and conflicts between components.
func (c *Config) validate(d *conf.Decoder, l *Loaded) {
	if c.DataDir == "" {
		d.Fail("data_dir", "must not be empty")
	}
	c.Spool.validate(d)
	if c.HTTP.Address != "" {
		var e conf.Errors
		e.HostPort("http.address", c.HTTP.Address, true)
		d.Merge("", e.Err())
	}
	for _, name := range sortedKeys(c.Streams) {
		st := c.Streams[name]
		p := conf.Join("streams", name)
		if st.Partitions < 1 || st.Partitions > spool.MaxPartitions {
			d.Fail(conf.Join(p, "partitions"), "must be between 1 and %d, got %d", spool.MaxPartitions, st.Partitions)
		} else if !d.Has("spool.segment_bytes") {
			// What the spool itself refuses (max_bytes too small for its
			// segments), under the stream's key.
			if err := c.StreamOptions(st).Validate(); err != nil {
				d.Fail(p, "%v", err)
			}
		}
	}
	for _, k := range sortedKeys(c.Attributes) {
		if k == "" {
			d.Fail("attributes", "an attribute needs a name")
		}
	}
	c.validateStreams(d)
	c.validateListeners(d)
	c.validateFiles(d)
	if len(c.Inputs) == 0 {
		l.Warnings = append(l.Warnings, "no inputs are configured: the agent will only ship what its spool already holds")
	}
	if len(c.Outputs) == 0 && len(c.Inputs) > 0 {
		l.Warnings = append(l.Warnings, "no outputs are configured")
	}
}

// minSegmentBytes is the smallest segment size the spool takes.
const minSegmentBytes = 1 << 10

func (s *Spool) validate(d *conf.Decoder) {
	if s.SegmentBytes < minSegmentBytes || s.SegmentBytes > spool.MaxSegmentBytes {
		d.Fail("spool.segment_bytes", "must be at least %s and at most %s, got %s", conf.Size(minSegmentBytes), conf.Size(spool.MaxSegmentBytes), s.SegmentBytes)
	}
	if s.IndexInterval <= 0 {
		d.Fail("spool.index_interval", "must be more than 0")
	}
	if s.SegmentAge <= 0 {
		d.Fail("spool.segment_age", "must be more than 0")
	}
	if s.Fsync == "interval" && s.FsyncInterval <= 0 {
		d.Fail("spool.fsync_interval", "must be more than 0 with fsync: interval")
	}
	if err := s.Options(nil).Validate(); err != nil && !d.Has("spool.segment_bytes") {
		d.Fail("spool", "%v", err) // what the spool itself refuses
	}
}

// Options are the spool's options for this section.
func (s *Spool) Options(log *zap.Logger) spool.Options {
	return spool.Options{
		SegmentBytes:  int64(s.SegmentBytes),
		SegmentAge:    s.SegmentAge.D(),
		IndexInterval: int64(s.IndexInterval),
		Fsync:         spool.FsyncPolicy(s.Fsync),
		FsyncInterval: s.FsyncInterval.D(),
		Logger:        log,
	}
}

// StreamOptions are the spool's options of a stream.
func (c *Config) StreamOptions(st Stream) spool.StreamOptions {
	return spool.StreamOptions{Partitions: st.Partitions, MaxBytes: int64(st.MaxBytes), MaxAge: st.MaxAge.D(), WhenFull: spool.WhenFull(st.WhenFull)}
}

// validateStreams checks that every stream named is declared, and that every
// stream is both written and read: a stream nobody reads fills up, one nobody
// writes is a typo somewhere.
func (c *Config) validateStreams(d *conf.Decoder) {
	declared := map[string]bool{}
	for name := range c.Streams {
		declared[name] = true
	}
	names := sortedKeys(c.Streams)
	written, read := map[string]bool{}, map[string]bool{}
	defaultNamed := false // an output lists the default stream by name
	for _, name := range sortedKeys(c.Inputs) {
		in := c.Inputs[name]
		if in.Settings == nil {
			continue // already reported
		}
		if in.Stream != DefaultStream && !declared[in.Stream] {
			d.Fail(conf.Join(conf.Join("inputs", name), "stream"), "stream %q is not declared under streams%s", in.Stream, conf.DidYouMean(in.Stream, names))
			continue
		}
		written[in.Stream] = true
		for _, st := range RouteTargets(in) {
			written[st] = true
		}
	}
	for _, name := range sortedKeys(c.Outputs) {
		out := c.Outputs[name]
		if out.Settings == nil {
			continue
		}
		path := conf.Join(conf.Join("outputs", name), "streams")
		if len(out.Streams) == 0 {
			for s := range declared {
				read[s] = true
			}
			read[DefaultStream] = true
			continue
		}
		seen := map[string]bool{}
		for i, s := range out.Streams {
			if seen[s] {
				d.Fail(conf.Index(path, i), "stream %q is listed twice", s)
			}
			seen[s] = true
			if s != DefaultStream && !declared[s] {
				d.Fail(conf.Index(path, i), "stream %q is not declared under streams%s", s, conf.DidYouMean(s, names))
				continue
			}
			read[s] = true
			defaultNamed = defaultNamed || s == DefaultStream
		}
	}
	// A stream an output dead-letters into is written by that output; the
	// output must not read it (it would be sent what it refused).
	for _, name := range sortedKeys(c.Outputs) {
		out := c.Outputs[name]
		dl, ok := out.Settings.(component.DeadLetters)
		if !ok || dl.DeadLetterStream() == "" {
			continue
		}
		s := dl.DeadLetterStream()
		path := conf.Join(conf.Join(conf.Join("outputs", name), "dead_letter"), "stream")
		switch {
		case !declared[s]:
			d.Fail(path, "stream %q is not declared under streams%s", s, conf.DidYouMean(s, names))
		case len(out.Streams) == 0:
			d.Fail(path, "the output reads every stream, this one too: list its streams")
		case slices.Contains(out.Streams, s):
			d.Fail(path, "the output reads stream %q itself", s)
		default:
			written[s] = true
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
		p := conf.Join("streams", s)
		if !declared[s] {
			p = fmt.Sprintf("streams.%s (implicit)", s)
		}
		if !written[s] {
			d.Fail(p, "no input writes to this stream")
		}
		if !read[s] {
			d.Fail(p, "no output reads this stream, so it would only fill up")
		}
	}
}

// Listeners are every address the configuration binds, with its key path.
func (c *Config) Listeners() []component.Listener {
	var out []component.Listener
	if c.HTTP.Address != "" {
		out = append(out, component.Listener{Network: "tcp", Address: c.HTTP.Address, Path: "http.address"})
	}
	for _, name := range sortedKeys(c.Inputs) {
		ls, ok := c.Inputs[name].Settings.(component.Listeners)
		if !ok {
			continue
		}
		for _, l := range ls.Listeners() {
			l.Path = conf.JoinPath(conf.Join("inputs", name), l.Path)
			out = append(out, l)
		}
	}
	return out
}

// validateListeners finds two components on one address: the same port
// with the same host, or with a wildcard host (":5170" takes every
// address), or one unix socket path.
func (c *Config) validateListeners(d *conf.Decoder) {
	ls := c.Listeners()
	for i, a := range ls {
		for _, b := range ls[:i] {
			if Overlap(a, b) {
				d.Fail(a.Path, "%s %s is already used by %s (%s)", a.Network, a.Address, b.Path, b.Address)
				break
			}
		}
	}
}

// Overlap reports whether two listeners cannot both be bound.
func Overlap(a, b component.Listener) bool {
	ua, ub := isUnix(a.Network), isUnix(b.Network)
	if ua || ub {
		return ua && ub && filepath.Clean(a.Address) == filepath.Clean(b.Address)
	}
	if a.Network != b.Network {
		return false // tcp and udp have separate ports
	}
	ha, pa, err1 := net.SplitHostPort(a.Address)
	hb, pb, err2 := net.SplitHostPort(b.Address)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	return ha == hb || wildcard(ha) || wildcard(hb)
}

func isUnix(network string) bool { return strings.HasPrefix(network, "unix") }

func wildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::" || host == "[::]"
}

// validateFiles finds an output that writes into its own inputs' globs (a
// loop that re-reads what it writes) and two outputs writing one file.
func (c *Config) validateFiles(d *conf.Decoder) {
	type file struct{ path, key string }
	var reads, writes []file
	for _, name := range sortedKeys(c.Inputs) {
		if f, ok := c.Inputs[name].Settings.(component.Files); ok {
			r, _ := f.Files()
			for _, g := range r {
				reads = append(reads, file{g, conf.Join(conf.Join("inputs", name), "include")})
			}
		}
	}
	for _, name := range sortedKeys(c.Outputs) {
		if f, ok := c.Outputs[name].Settings.(component.Files); ok {
			_, w := f.Files()
			for _, p := range w {
				writes = append(writes, file{filepath.Clean(p), conf.Join(conf.Join("outputs", name), "path")})
			}
		}
	}
	for i, w := range writes {
		for _, o := range writes[:i] {
			if w.path == o.path {
				d.Fail(w.key, "%s is also written by %s", w.path, strings.TrimSuffix(o.key, ".path"))
			}
		}
		for _, r := range reads {
			for _, candidate := range []string{w.path, w.path + ".1"} {
				if GlobMatch(r.path, candidate) {
					d.Fail(w.key, "%s is read again by %s (%s): the output would ship its own lines forever", candidate, strings.TrimSuffix(r.key, ".include"), r.path)
					break
				}
			}
		}
	}
}

// GlobMatch matches a path against a glob where ** matches any number of
// directories, as the file input does.
func GlobMatch(glob, path string) bool {
	gp := strings.Split(filepath.Clean(glob), "/")
	pp := strings.Split(filepath.Clean(path), "/")
	var match func(g, p []string) bool
	match = func(g, p []string) bool {
		for len(g) > 0 {
			if g[0] == "**" {
				for i := 0; i <= len(p); i++ {
					if match(g[1:], p[i:]) {
						return true
					}
				}
				return false
			}
			if len(p) == 0 {
				return false
			}
			if ok, err := filepath.Match(g[0], p[0]); err != nil || !ok {
				return false
			}
			g, p = g[1:], p[1:]
		}
		return len(p) == 0
	}
	return match(gp, pp)
}

// RouteTargets are the streams an input's route processors name (cases and
// defaults; an expression's literal results are checked by the chain).
func RouteTargets(in *Input) []string {
	var out []string
	for _, p := range in.Processors {
		r, ok := p.Config.(*process.RouteConfig)
		if !ok {
			continue
		}
		for _, c := range r.Cases {
			out = append(out, c.Stream)
		}
		if r.Default != "" {
			out = append(out, r.Default)
		}
	}
	return out
}
