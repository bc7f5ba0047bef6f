// Package kafkatest gives tests a Kafka cluster in a process of its own (the
// kfakecluster helper: franz-go's kfake, with transactions and consumer
// groups), so a capstan process can be killed while the cluster lives on, and
// reads topics back at read_committed or read_uncommitted with a franz-go
// consumer. It also finds Debian's kcat for checks by an independent client.
package kafkatest
