// Package kafka is the kafka output: records as Kafka records (raw or JSON
// values, a key and headers from their attributes) through franz-go, with
// acks=all and idempotence, and exactly once into Kafka with a
// transactional producer that commits the spool offsets in the same
// transaction (docs/kafka.md).
package kafka
