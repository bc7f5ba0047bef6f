// Package testproc builds and runs the helper programs that tests talk to over
// the network (the OpenTelemetry Collector's OTLP receiver, a kfake Kafka
// cluster): built once per test binary with the go command, started with a
// deadline for their "ready" line, killed by PID when the test ends.
package testproc
