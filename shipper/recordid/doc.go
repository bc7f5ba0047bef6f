// Package recordid names a record by where it came from — its batch's
// producer and sequence and its index in the batch — so that an output can
// give a destination an id that is the same on every re-send, restart,
// hop and failover: OTLP's log.record.uid, Elasticsearch's _id.
// docs/output-otlp.md ("log.record.uid") argues why these inputs are stable.
package recordid
