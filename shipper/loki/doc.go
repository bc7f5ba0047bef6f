// Package loki is the loki output: records pushed to Grafana Loki's push
// API (protobuf with snappy, or JSON), a stream per label set chosen from
// the records' attributes, the rest as structured metadata, each stream's
// requests sent one at a time in order. docs/output-loki.md describes it.
package loki
