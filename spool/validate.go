package spool

// Validate reports what Open would refuse of o, so that a configuration can
// be checked before anything is opened.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// Validate reports what Stream would refuse of o.
func (o StreamOptions) Validate() error {
	_, err := o.withDefaults()
	return err
}

// MaxPartitions is the most partitions a stream may have.
const MaxPartitions = 1024
