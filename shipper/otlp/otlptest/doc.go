// Package otlptest gives tests a real OpenTelemetry Collector OTLP receiver (the
// otlprecv helper program, HTTP and gRPC) and fronts that stand before it and
// answer by a script — throttling, errors, partial successes, resets, hangs —
// while counting what each request carried and what it was told.
package otlptest
