package component

// DeadLetters is implemented by the Config of an output that sends records
// its destination refused for good to a stream of the spool. The agent
// checks that the stream is declared and that the output does not read it,
// counts it as written, and gives the output its partitions
// (DeadLetterHost).
type DeadLetters interface {
	// DeadLetterStream is the stream's name, "" for none.
	DeadLetterStream() string
}

// DeadLetterHost is implemented by an OutputHost that gives the output the
// stream its Config names for dead letters.
type DeadLetterHost interface {
	// DeadLetterPartitions are that stream's partitions, nil if none.
	DeadLetterPartitions() []Partition
}

// StateHost is implemented by an OutputHost that gives the output a file
// of its own for state it keeps beside its checkpoint (the file output
// keeps the size of its file there).
type StateHost interface {
	// StatePath is the file's path; its directory may not exist yet.
	StatePath() string
}
