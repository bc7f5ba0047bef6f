package main

import (
	"io"

	"github.com/capstan-agent/capstan/component"
	"github.com/capstan-agent/capstan/inputs/file"
	fwdin "github.com/capstan-agent/capstan/inputs/forward"
	kafkain "github.com/capstan-agent/capstan/inputs/kafka"
	"github.com/capstan-agent/capstan/inputs/socket"
	"github.com/capstan-agent/capstan/shipper/elasticsearch"
	fwdout "github.com/capstan-agent/capstan/shipper/forward"
	"github.com/capstan-agent/capstan/shipper/httpout"
	kafkaout "github.com/capstan-agent/capstan/shipper/kafka"
	"github.com/capstan-agent/capstan/shipper/lines"
	"github.com/capstan-agent/capstan/shipper/loki"
	"github.com/capstan-agent/capstan/shipper/otlp"
)

// registry lists the input and output types this build has: one line per
// type, each a package's factory (see docs/architecture.md, "Adding a
// component").
func registry(stdout io.Writer) *component.Registry {
	return component.NewRegistry().
		Input(file.NewFactory()).
		Input(socket.TCPFactory(), socket.UDPFactory(), socket.UnixFactory(), socket.UnixgramFactory()).
		Input(fwdin.NewFactory()).
		Input(kafkain.NewFactory()).
		Output(fwdout.NewFactory()).
		Output(lines.StdoutFactory(stdout), lines.FileFactory(), lines.TCPFactory()).
		Output(otlp.NewFactory()).
		Output(httpout.NewFactory()).
		Output(elasticsearch.NewFactory()).
		Output(loki.NewFactory()).
		Output(kafkaout.NewFactory())
}
