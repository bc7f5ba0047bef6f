package main

import (
	"github.com/capstan-agent/capstan/agent"
	"github.com/capstan-agent/capstan/agent/config"
	"github.com/capstan-agent/capstan/inputs/socket"
)

// registerSockets plugs the socket inputs (package inputs/socket) in.
func registerSockets(reg *agent.Registry) {
	reg.Input("tcp", agent.TypedInput(func(env agent.InputEnv, c *config.TCPInput) (agent.Component, error) {
		cfg := socketConfig(env, "tcp", c.SocketInput)
		streamSocket(&cfg, c.StreamSocket)
		if c.TLS != nil {
			cfg.TLS = &socket.TLSConfig{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile,
				ClientCAFile: c.TLS.ClientCAFile, MinVersion: c.TLS.MinVersion}
		}
		return newSocketInput(env, cfg)
	}))
	reg.Input("unix", agent.TypedInput(func(env agent.InputEnv, c *config.UnixInput) (agent.Component, error) {
		cfg := socketConfig(env, "unix", c.SocketInput)
		streamSocket(&cfg, c.StreamSocket)
		cfg.SocketMode = c.SocketMode.String()
		return newSocketInput(env, cfg)
	}))
	reg.Input("udp", agent.TypedInput(func(env agent.InputEnv, c *config.UDPInput) (agent.Component, error) {
		cfg := socketConfig(env, "udp", c.SocketInput)
		cfg.ReceiveBufferBytes = int(c.ReadBufferBytes)
		return newSocketInput(env, cfg)
	}))
	reg.Input("unixgram", agent.TypedInput(func(env agent.InputEnv, c *config.UnixgramInput) (agent.Component, error) {
		cfg := socketConfig(env, "unixgram", c.SocketInput)
		cfg.ReceiveBufferBytes = int(c.ReadBufferBytes)
		cfg.SocketMode = c.SocketMode.String()
		return newSocketInput(env, cfg)
	}))
}

// socketConfig maps the keys every socket input has.
func socketConfig(env agent.InputEnv, typ string, c config.SocketInput) socket.Config {
	format := c.Parser
	if format == "none" || format == "" {
		format = "raw"
	}
	return socket.Config{
		Name: env.Name, Type: typ, Addresses: c.Listen, Format: format,
		MaxMessageBytes: int(c.MaxMessageBytes), BatchBytes: int(c.BatchBytes), Linger: c.Linger.D(),
	}
}

func streamSocket(cfg *socket.Config, c config.StreamSocket) {
	cfg.Framing = c.Framing
	cfg.MaxConnections = c.MaxConnections
	cfg.IdleTimeout = c.IdleTimeout.D()
}

func newSocketInput(env agent.InputEnv, cfg socket.Config) (agent.Component, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var parts []socket.Appender
	for _, p := range env.Stream.Partitions() {
		parts = append(parts, p)
	}
	return &bindOnRun[*socket.Input]{
		build:   func() (*socket.Input, error) { return socket.New(cfg, parts, env.Logger) },
		metrics: func(in *socket.Input) []agent.Metric { return agent.StatsMetrics(in.Stats(), "Connections") },
	}, nil
}
