package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

const spoolUsage = `Usage: capstan spool COMMAND [flags] DIR

Look at the spool in the data dir DIR. These commands only read: they take no
lock and change nothing, so they work on the spool of a running agent.

Commands:
  inspect DIR                    streams, partitions, segments, offsets, bytes, checkpoints
  verify DIR                     read every batch and check length, CRC and offsets,
                                 every index entry, snapshot and checkpoint
  dump [-from N] DIR STREAM[/P]  print the records of a partition as NDJSON
  lag DIR                        how far each consumer is behind, per partition

Exit codes: 0 fine, 1 verify found problems, 2 bad usage or DIR not readable.
`

// runSpool runs `capstan spool ...` and returns the exit code.
func runSpool(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, spoolUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("capstan spool "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, spoolUsage) }
	asJSON := fs.Bool("json", false, "print JSON instead of a table (inspect, lag)")
	from := fs.Uint64("from", 0, "first offset to print (dump)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err error
	code := 0
	switch cmd {
	case "inspect":
		err = needArgs(fs, 1)
		if err == nil {
			err = spoolInspect(fs.Arg(0), *asJSON, stdout)
		}
	case "verify":
		err = needArgs(fs, 1)
		if err == nil {
			code, err = spoolVerify(fs.Arg(0), stdout)
		}
	case "dump":
		err = needArgs(fs, 2)
		if err == nil {
			err = spoolDump(fs.Arg(0), fs.Arg(1), *from, stdout, stderr)
		}
	case "lag":
		err = needArgs(fs, 1)
		if err == nil {
			err = spoolLag(fs.Arg(0), *asJSON, stdout)
		}
	default:
		err = fmt.Errorf("unknown command %q (see capstan spool --help)", cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "capstan spool %s: %v\n", cmd, err)
		return 2
	}
	return code
}

func needArgs(fs *flag.FlagSet, n int) error {
	if fs.NArg() != n {
		return fmt.Errorf("want %d argument(s), got %d (see capstan spool --help)", n, fs.NArg())
	}
	return nil
}

func spoolInspect(dir string, asJSON bool, out io.Writer) error {
	info, err := spool.Inspect(dir)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(out, info)
	}
	fmt.Fprintf(out, "data dir  %s\nagent id  %s\n", info.Dir, info.AgentID)
	if info.LockedBy != "" {
		fmt.Fprintf(out, "in use    by pid %s\n", info.LockedBy)
	}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nstream\tpartition\tsegments\toldest\tnext\trecords\tbytes\t")
	for _, p := range info.Partitions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", p.Key.Stream, p.Key.Partition, len(p.Segments),
			p.Oldest, p.Next, p.Next-p.Oldest, size(p.Bytes))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nsegments:")
	tw = tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stream/partition\tbase\tnext\tbytes\tindex entries\t")
	for _, p := range info.Partitions {
		for _, s := range p.Segments {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t\n", p.Key, s.Base, s.Next, size(s.Bytes), s.IndexEntries)
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\ncheckpoints (next offset to read):")
	if len(info.Checkpoints) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, c := range sortedKeys(info.Checkpoints) {
		offs := info.Checkpoints[c]
		keys := make([]spool.Key, 0, len(offs))
		for k := range offs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			fmt.Fprintf(out, "  %s  %s  %d\n", c, k, offs[k])
		}
	}
	for _, p := range info.Problems {
		fmt.Fprintf(out, "problem: %s\n", p)
	}
	return nil
}

func spoolVerify(dir string, out io.Writer) (int, error) {
	vs, err := spool.Verify(dir, func(p spool.Problem) { fmt.Fprintln(out, p) })
	if err != nil {
		return 2, err
	}
	fmt.Fprintf(out, "%d partitions, %d segments, %d batches, %d records, %s: ",
		vs.Partitions, vs.Segments, vs.Batches, vs.Records, size(vs.Bytes))
	if vs.Problems > 0 {
		fmt.Fprintf(out, "%d problems\n", vs.Problems)
		return 1, nil
	}
	fmt.Fprintln(out, "ok")
	return 0, nil
}

// dumpRecord is one line of `capstan spool dump`.
type dumpRecord struct {
	Offset uint64            `json:"offset"`
	Time   string            `json:"time"`
	Source map[string]string `json:"source,omitempty"`
	Attrs  map[string]string `json:"attrs,omitempty"`
	Body   string            `json:"body"`
}

func spoolDump(dir, what string, from uint64, out, stderr io.Writer) error {
	k := spool.Key{Stream: what}
	if i := strings.LastIndexByte(what, '/'); i > 0 {
		p, err := strconv.Atoi(what[i+1:])
		if err != nil {
			return fmt.Errorf("bad partition in %q: want STREAM or STREAM/N", what)
		}
		k = spool.Key{Stream: what[:i], Partition: p}
	}
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return spool.Scan(dir, k, from, func(b batch.Batch) error {
		src := attrMap(b.SourceAttrs())
		it := b.Records()
		var rec batch.Record
		for it.Next(&rec) {
			if rec.Offset < from {
				continue
			}
			d := dumpRecord{Offset: rec.Offset, Time: time.Unix(0, rec.Timestamp).UTC().Format(time.RFC3339Nano),
				Source: src, Attrs: attrMap(rec.Attrs()), Body: string(rec.Body)}
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return it.Err()
	}, func(p spool.Problem) { fmt.Fprintf(stderr, "capstan spool dump: %s\n", p) })
}

func attrMap(it batch.AttrIter) map[string]string {
	var m map[string]string
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		if m == nil {
			m = map[string]string{}
		}
		m[string(k)] = string(v)
	}
	return m
}

// lagRow is one consumer's distance from the end of one partition.
type lagRow struct {
	Consumer  string `json:"consumer"`
	Partition string `json:"partition"`
	Committed uint64 `json:"committed"`
	Next      uint64 `json:"next"`
	Records   uint64 `json:"records"`
	Bytes     int64  `json:"bytes"`
}

func spoolLag(dir string, asJSON bool, out io.Writer) error {
	info, err := spool.Inspect(dir)
	if err != nil {
		return err
	}
	var rows []lagRow
	for _, c := range sortedKeys(info.Checkpoints) {
		offs := info.Checkpoints[c]
		for _, p := range info.Partitions {
			at, ok := offs[p.Key]
			if !ok {
				continue
			}
			r := lagRow{Consumer: c, Partition: p.Key.String(), Committed: at, Next: p.Next}
			if at < p.Next {
				r.Records = p.Next - max(at, p.Oldest)
				r.Bytes = p.BytesFrom(at)
			}
			rows = append(rows, r)
		}
	}
	if asJSON {
		return writeJSON(out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "no consumer has committed a checkpoint")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "consumer\tpartition\tcommitted\tnext\tlag records\tlag bytes\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t\n", r.Consumer, r.Partition, r.Committed, r.Next, r.Records, size(r.Bytes))
	}
	return tw.Flush()
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// size prints a byte count as people read it.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
