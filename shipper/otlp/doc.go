// Package otlp is the otlp output: records as OpenTelemetry LogRecords,
// grouped by the Resource their source attributes make, sent over OTLP/HTTP
// (protobuf or JSON) or OTLP/gRPC, with the answers classed as the OTLP
// specification says. docs/output-otlp.md describes it.
package otlp
