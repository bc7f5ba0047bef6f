package config

import (
	"maps"
	"slices"
)

// Input is one entry of inputs: the keys every input has, and the keys of its
// type in exactly one of the typed fields (the one Type names).
type Input struct {
	Type   string `koanf:"type"`
	Stream string `koanf:"stream"`

	File     *FileInput     `koanf:"-"`
	TCP      *TCPInput      `koanf:"-"`
	UDP      *UDPInput      `koanf:"-"`
	Unix     *UnixInput     `koanf:"-"`
	Unixgram *UnixgramInput `koanf:"-"`
	Forward  *ForwardInput  `koanf:"-"`
}

func (in *Input) defaults() { in.Stream = DefaultStream }

// inputTypes makes the typed settings of each input type, defaults applied.
var inputTypes = map[string]func(*Input) any{
	"file":     func(in *Input) any { in.File = &FileInput{}; return in.File },
	"tcp":      func(in *Input) any { in.TCP = &TCPInput{}; return in.TCP },
	"udp":      func(in *Input) any { in.UDP = &UDPInput{}; return in.UDP },
	"unix":     func(in *Input) any { in.Unix = &UnixInput{}; return in.Unix },
	"unixgram": func(in *Input) any { in.Unixgram = &UnixgramInput{}; return in.Unixgram },
	"forward":  func(in *Input) any { in.Forward = &ForwardInput{}; return in.Forward },
}

// InputTypes lists the input types the schema knows, sorted.
func InputTypes() []string { return sortedKeys(inputTypes) }

// Settings is the typed part of the input (*FileInput, *TCPInput, ...), or nil.
func (in *Input) Settings() any {
	switch {
	case in.File != nil:
		return in.File
	case in.TCP != nil:
		return in.TCP
	case in.UDP != nil:
		return in.UDP
	case in.Unix != nil:
		return in.Unix
	case in.Unixgram != nil:
		return in.Unixgram
	case in.Forward != nil:
		return in.Forward
	}
	return nil
}

// FileInput tails files (issue 3, DESIGN §4).
type FileInput struct {
	Include           []string   `koanf:"include"`
	Exclude           []string   `koanf:"exclude"`
	StartAt           string     `koanf:"start_at" enum:"beginning,end"`
	Format            string     `koanf:"format" enum:"raw,json,docker,cri"`
	Multiline         *Multiline `koanf:"multiline"`
	MaxLineBytes      Size       `koanf:"max_line_bytes"`
	MaxOpenFiles      int        `koanf:"max_open_files"`
	ReadBufferSize    Size       `koanf:"read_buffer_bytes"`
	FingerprintBytes  int        `koanf:"fingerprint_bytes"`
	ScanInterval      Duration   `koanf:"scan_interval"`
	PollInterval      Duration   `koanf:"poll_interval"`
	CloseInactive     Duration   `koanf:"close_inactive"`
	RotateWait        Duration   `koanf:"rotate_wait"`
	ForgetAfter       Duration   `koanf:"forget_after"`
	PositionsInterval Duration   `koanf:"positions_interval"`
}

// Multiline joins lines into one record: a record starts at a line matching
// StartPattern and ends before the next one, or after FlushTimeout.
type Multiline struct {
	StartPattern string   `koanf:"start_pattern"`
	FlushTimeout Duration `koanf:"flush_timeout"`
}

func (f *FileInput) defaults() {
	f.StartAt = "end"
	f.Format = "raw"
	f.MaxLineBytes = 1 << 20
	f.MaxOpenFiles = 1024
	f.ReadBufferSize = 2 << 20
	f.FingerprintBytes = 1024
	f.ScanInterval = Duration(10e9)
	f.PollInterval = Duration(250e6)
	f.CloseInactive = Duration(300e9)
	f.RotateWait = Duration(5e9)
	f.ForgetAfter = Duration(24 * 3600e9)
	f.PositionsInterval = Duration(1e9)
}

func (m *Multiline) defaults() { m.FlushTimeout = Duration(5e9) }

// SocketInput holds the keys every socket input has (issue 4).
type SocketInput struct {
	Listen          []string `koanf:"listen"`
	Parser          string   `koanf:"parser" enum:"none,syslog,rfc5424,rfc3164"`
	MaxMessageBytes Size     `koanf:"max_message_bytes"`
	BatchBytes      Size     `koanf:"batch_bytes"`
	Linger          Duration `koanf:"linger"`
}

func (s *SocketInput) defaults() {
	s.Parser = "none"
	s.MaxMessageBytes = 64 << 10
	s.BatchBytes = 1 << 20
	s.Linger = Duration(100e6)
}

// StreamSocket holds the keys of connection-oriented sockets (tcp, unix).
type StreamSocket struct {
	Framing        string   `koanf:"framing" enum:"auto,newline,octet_counting"`
	MaxConnections int      `koanf:"max_connections"`
	IdleTimeout    Duration `koanf:"idle_timeout"`
}

func (s *StreamSocket) defaults() {
	s.Framing = "auto"
	s.MaxConnections = 1024
	s.IdleTimeout = Duration(300e9)
}

// TCPInput listens on TCP, with optional TLS.
type TCPInput struct {
	SocketInput  `koanf:",squash"`
	StreamSocket `koanf:",squash"`
	TLS          *ServerTLS `koanf:"tls"`
}

// UDPInput receives one message per datagram.
type UDPInput struct {
	SocketInput     `koanf:",squash"`
	ReadBufferBytes Size `koanf:"read_buffer_bytes"`
}

func (u *UDPInput) defaults() { u.ReadBufferBytes = 4 << 20 }

// UnixInput listens on a unix stream socket.
type UnixInput struct {
	SocketInput  `koanf:",squash"`
	StreamSocket `koanf:",squash"`
	SocketMode   FileMode `koanf:"socket_mode"`
}

func (u *UnixInput) defaults() { u.SocketMode = 0o660 }

// UnixgramInput receives datagrams on a unix socket (/dev/log style).
type UnixgramInput struct {
	SocketInput     `koanf:",squash"`
	ReadBufferBytes Size     `koanf:"read_buffer_bytes"`
	SocketMode      FileMode `koanf:"socket_mode"`
}

func (u *UnixgramInput) defaults() { u.ReadBufferBytes = 4 << 20; u.SocketMode = 0o666 }

// ForwardInput is the receiving end of the forward protocol (issue 5).
type ForwardInput struct {
	Listen         []string   `koanf:"listen"`
	Token          string     `koanf:"token"`
	TLS            *ServerTLS `koanf:"tls"`
	MaxFrameBytes  Size       `koanf:"max_frame_bytes"`
	WindowBytes    Size       `koanf:"window_bytes"`
	MaxConnections int        `koanf:"max_connections"`
	IdleTimeout    Duration   `koanf:"idle_timeout"`
}

func (f *ForwardInput) defaults() {
	f.MaxFrameBytes = 65 << 20 // the largest batch (64 MiB) and frame headers
	f.WindowBytes = 64 << 20
	f.MaxConnections = 256
	f.IdleTimeout = Duration(60e9)
}

// ServerTLS is TLS for a listener; ClientCAFile turns on mTLS.
type ServerTLS struct {
	CertFile     string `koanf:"cert_file"`
	KeyFile      string `koanf:"key_file"`
	ClientCAFile string `koanf:"client_ca_file"`
	MinVersion   string `koanf:"min_version" enum:"1.2,1.3"`
}

func (t *ServerTLS) defaults() { t.MinVersion = "1.2" }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
