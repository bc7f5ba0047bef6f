// Command otlprecv runs the OpenTelemetry Collector's own OTLP receiver
// (go.opentelemetry.io/collector/receiver/otlpreceiver) on 127.0.0.1 and writes
// every log record it accepts as one JSON line to a file, so that capstan's tests
// check what a real Collector would have received. It is built and started by
// the otlptest package; docs/testing.md describes the line format.
//
// It prints "ready http=ADDR grpc=ADDR" once both servers listen, then one
// "request N records M end B" line after each request's lines are in the file
// (B: the file's size after them). It runs
// until SIGTERM or SIGINT, or until its standard input closes (the test process
// that started it is gone).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type flags struct {
	httpAddr    string
	grpcAddr    string
	out         string
	compression string
	maxBody     int64
	reqBase     int
}

func main() {
	var f flags
	flag.StringVar(&f.httpAddr, "http", "127.0.0.1:0", `OTLP/HTTP listen address ("off" disables; port 0 picks one)`)
	flag.StringVar(&f.grpcAddr, "grpc", "127.0.0.1:0", `OTLP/gRPC listen address ("off" disables; port 0 picks one)`)
	flag.StringVar(&f.out, "out", "", "file the JSON lines are appended to (required)")
	flag.StringVar(&f.compression, "http-compression", "", "comma-separated request encodings the HTTP server accepts (empty: the receiver's default)")
	flag.Int64Var(&f.maxBody, "max-request-body", 0, "largest HTTP request body in bytes (0: the receiver's default of 20 MiB)")
	flag.IntVar(&f.reqBase, "request-base", 0, "number of requests earlier runs wrote to -out (request numbers go on from there)")
	flag.Parse()
	if err := run(f); err != nil {
		fmt.Fprintf(os.Stderr, "otlprecv: %v\n", err)
		os.Exit(1)
	}
}

func run(f flags) error {
	if f.out == "" {
		return errors.New("-out is required")
	}
	if f.httpAddr == "off" && f.grpcAddr == "off" {
		return errors.New("-http and -grpc are both off")
	}
	out, err := os.OpenFile(f.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	defer out.Close()
	st, err := out.Stat()
	if err != nil {
		return fmt.Errorf("stat output: %w", err)
	}

	w := newLineWriter(out, os.Stdout, f.reqBase, st.Size())
	next, err := consumer.NewLogs(w.consume)
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}

	// The receiver logs the address each server bound; that is the only place
	// it says which port 0 became, so the log entries are observed for it.
	obsCore, observed := observer.New(zapcore.InfoLevel)
	stderrCore := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.Lock(os.Stderr), zapcore.WarnLevel)
	logger := zap.New(zapcore.NewTee(obsCore, stderrCore))

	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	configure(cfg, f)
	set := receiver.Settings{
		ID:                component.NewID(factory.Type()),
		TelemetrySettings: componenttest.NewNopTelemetrySettings(),
		BuildInfo:         component.NewDefaultBuildInfo(),
	}
	set.Logger = logger

	ctx := context.Background()
	rcv, err := factory.CreateLogs(ctx, set, cfg, next)
	if err != nil {
		return fmt.Errorf("create receiver: %w", err)
	}
	if err := rcv.Start(ctx, componenttest.NewNopHost()); err != nil {
		return fmt.Errorf("start receiver: %w", err)
	}
	httpAt, grpcAt := "off", "off"
	for _, e := range observed.All() {
		switch e.Message {
		case "Starting HTTP server":
			httpAt = e.ContextMap()["endpoint"].(string)
		case "Starting GRPC server":
			grpcAt = e.ContextMap()["endpoint"].(string)
		}
	}
	if (f.httpAddr != "off" && httpAt == "off") || (f.grpcAddr != "off" && grpcAt == "off") {
		return errors.New("the receiver did not log the endpoints it listens on (its log messages changed?)")
	}
	fmt.Fprintf(os.Stdout, "ready http=%s grpc=%s\n", httpAt, grpcAt)

	waitForStop()
	shutCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rcv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down receiver: %w", err)
	}
	return w.err()
}

func configure(cfg *otlpreceiver.Config, f flags) {
	if f.grpcAddr == "off" {
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	} else {
		g := cfg.Protocols.GRPC.GetOrInsertDefault()
		g.NetAddr.Endpoint = f.grpcAddr
		g.IncludeMetadata = true
	}
	if f.httpAddr == "off" {
		cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	} else {
		h := cfg.Protocols.HTTP.GetOrInsertDefault()
		h.ServerConfig.NetAddr.Endpoint = f.httpAddr
		h.ServerConfig.IncludeMetadata = true
		if f.compression != "" {
			h.ServerConfig.CompressionAlgorithms = strings.Split(f.compression, ",")
		}
		if f.maxBody > 0 {
			h.ServerConfig.MaxRequestBodySize = f.maxBody
		}
	}
}

// waitForStop returns on SIGTERM or SIGINT, or when standard input reaches its
// end: the test that started this process holds the other end of that pipe, so
// a test binary that dies does not leave receivers behind.
func waitForStop() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stdinDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinDone)
	}()
	select {
	case <-sig:
	case <-stdinDone:
	}
}
