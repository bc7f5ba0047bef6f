package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Isolation is the isolation level a topic is read at.
type Isolation int

const (
	// ReadCommitted sees only records of committed transactions (and those
	// written outside transactions), up to the last stable offset.
	ReadCommitted Isolation = iota
	// ReadUncommitted sees every record up to the high watermark, aborted
	// and open transactions included.
	ReadUncommitted
)

func (i Isolation) String() string {
	if i == ReadCommitted {
		return "read_committed"
	}
	return "read_uncommitted"
}

// ReadAll reads topic from its start to where its partitions end now (the
// last stable offset for ReadCommitted, the high watermark for
// ReadUncommitted) with a franz-go consumer at that isolation level, and
// returns the records in partition then offset order. It fails the test if
// that takes longer than timeout.
//
// The consumer keeps control records to see how far it has read (an end
// offset is often a transaction marker's); they are not returned. A partition
// whose last offset below the end belongs to an aborted transaction whose
// abort marker lies past the end (another transaction still open there) is
// never seen to be reached: read such a topic after its transactions ended.
func (c *Cluster) ReadAll(topic string, iso Isolation, timeout time.Duration) []*kgo.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	adm := kadm.NewClient(c.helperClient())
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		c.t.Fatalf("read %s: list start offsets: %v", topic, err)
	}
	list := adm.ListEndOffsets
	if iso == ReadCommitted {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		c.t.Fatalf("read %s: list end offsets (%v): %v", topic, iso, err)
	}

	from := map[int32]kgo.Offset{}
	last := map[int32]int64{} // the last offset to reach, per partition
	seen := map[int32]int64{} // the last offset seen
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			from[o.Partition] = kgo.NewOffset().At(start.Offset)
			last[o.Partition] = o.Offset - 1
			seen[o.Partition] = start.Offset - 1
		}
	})
	if len(from) == 0 {
		return nil
	}
	level := kgo.ReadUncommitted()
	if iso == ReadCommitted {
		level = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append(c.ClientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(level),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		c.t.Fatalf("read %s: consumer: %v", topic, err)
	}
	defer cl.Close()

	byPart := map[int32][]*kgo.Record{}
	for !reached(seen, last) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("read %s (%v): %v passed, not at the end yet: %s", topic, iso, timeout, progress(seen, last))
		}
		fetches.EachError(func(t string, p int32, err error) {
			c.t.Fatalf("read %s (%v): partition %d: %v", t, iso, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset > last[r.Partition] {
				return // written after the ends were listed
			}
			seen[r.Partition] = max(seen[r.Partition], r.Offset)
			if !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
		})
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, byPart[p]...)
	}
	return out
}

func reached(seen, last map[int32]int64) bool {
	for p, l := range last {
		if seen[p] < l {
			return false
		}
	}
	return true
}

func progress(seen, last map[int32]int64) string {
	var parts []string
	for p, l := range last {
		parts = append(parts, fmt.Sprintf("partition %d at %d of %d", p, seen[p]+1, l+1))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// Values returns the records' values as strings.
func Values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}
