// Package kafka is capstan's kafka input: a member of a Kafka consumer group
// that appends the records of its assigned partitions to the spool, with
// producer = (cluster, topic, partition) and sequence = the Kafka offset, and
// commits a partition's offset to Kafka only after the spool holds its
// records. See docs/inputs-kafka.md.
package kafka
