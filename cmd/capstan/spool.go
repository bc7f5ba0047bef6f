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

	"github.com/capstan-agent/capstan/shipper/delivery"
	"github.com/capstan-agent/capstan/spool"
	"github.com/capstan-agent/capstan/spool/batch"
)

const spoolUsage = `Usage: capstan spool COMMAND [flags] DIR [ARGS]

Look at the spool in the data dir DIR. These commands only read: they take no
lock and change nothing, so they work on the spool of a running agent. Flags
may come before or after the arguments.

Commands:
  inspect [-json] DIR            streams, partitions, segments, offsets, bytes, checkpoints
  verify DIR                     read every batch and check length, CRC and offsets,
                                 every index entry, snapshot and checkpoint
  dump [-from N] DIR STREAM[/P]  print the records of a stream (every partition) or
                                 of one partition as NDJSON
  lag [-json] DIR                how far each consumer is behind, per partition

Run capstan spool COMMAND --help for one command's usage.

Exit codes: 0 fine, 1 verify found problems, 2 bad usage or DIR not readable.
`

// spoolCommand is one `capstan spool` subcommand: its usage, its flags, and
// what it does with its arguments.
type spoolCommand struct {
	usage string
	args  int
	flags func(fs *flag.FlagSet, o *spoolOpts)
	run   func(args []string, o *spoolOpts, stdout, stderr io.Writer) (int, error)
}

type spoolOpts struct {
	json bool
	from uint64
}

var spoolCommands = map[string]spoolCommand{
	"inspect": {
		usage: `Usage: capstan spool inspect [-json] DIR

Shows what the data dir DIR holds: each stream's partitions (segments, oldest
and next offset, records, bytes), every segment, every consumer's checkpoint,
and problems found on the way (a checkpoint beyond the end of its partition).

Flags:
  -json    print JSON instead of tables
`,
		args:  1,
		flags: func(fs *flag.FlagSet, o *spoolOpts) { fs.BoolVar(&o.json, "json", false, "") },
		run: func(a []string, o *spoolOpts, out, _ io.Writer) (int, error) {
			return 0, spoolInspect(a[0], o.json, out)
		},
	},
	"verify": {
		usage: `Usage: capstan spool verify DIR

Reads every batch of every segment of the data dir DIR and checks its length,
magic, CRC and offset continuity, every index entry, every producer snapshot
and every checkpoint file (damaged, or beyond the end of its partition). Each
problem is one line; the last line sums up.

Exit codes: 0 no problem, 1 problems found, 2 DIR not readable.
`,
		args:  1,
		flags: func(*flag.FlagSet, *spoolOpts) {},
		run: func(a []string, _ *spoolOpts, out, _ io.Writer) (int, error) {
			return spoolVerify(a[0], out)
		},
	},
	"dump": {
		usage: `Usage: capstan spool dump [-from N] DIR STREAM[/P]

Prints the records of every partition of STREAM, one partition after the
other, or of partition P only, one NDJSON line per record: the NDJSON
outputs' record ({"ts":…,"attrs":{…},"body":…}) with "stream", "partition"
and "offset" first. Damaged batches are skipped and named on stderr.

Flags:
  -from N  start at offset N of each partition
`,
		args:  2,
		flags: func(fs *flag.FlagSet, o *spoolOpts) { fs.Uint64Var(&o.from, "from", 0, "") },
		run: func(a []string, o *spoolOpts, out, stderr io.Writer) (int, error) {
			return 0, spoolDump(a[0], a[1], o.from, out, stderr)
		},
	},
	"lag": {
		usage: `Usage: capstan spool lag [-json] DIR

Shows, for each consumer (output) and partition it reads, its checkpoint, the
partition's next offset, and how many records and bytes lie between.

Flags:
  -json    print JSON instead of a table
`,
		args:  1,
		flags: func(fs *flag.FlagSet, o *spoolOpts) { fs.BoolVar(&o.json, "json", false, "") },
		run: func(a []string, o *spoolOpts, out, _ io.Writer) (int, error) {
			return 0, spoolLag(a[0], o.json, out)
		},
	},
}

// runSpool runs `capstan spool ...` and returns the exit code.
func runSpool(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 2 && args[0] == "help" {
			if c, ok := spoolCommands[args[1]]; ok {
				fmt.Fprint(stdout, c.usage)
				return 0
			}
		}
		fmt.Fprint(stdout, spoolUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name, args := args[0], args[1:]
	c, ok := spoolCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "capstan spool %s: unknown command %q (see capstan spool --help)\n", name, name)
		return 2
	}
	var o spoolOpts
	fs := flag.NewFlagSet("capstan spool "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.flags(fs, &o)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.usage)
		return 0
	}
	if err == nil && len(pos) != c.args {
		err = fmt.Errorf("want %d argument(s), got %d (see capstan spool %s --help)", c.args, len(pos), name)
	} else if err != nil {
		err = fmt.Errorf("%v (see capstan spool %s --help)", err, name)
	}
	code := 0
	if err == nil {
		code, err = c.run(pos, &o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "capstan spool %s: %v\n", name, err)
		return 2
	}
	return code
}

// parseInterspersed parses flags wherever they stand among the arguments
// (flag.Parse stops at the first argument) and returns the arguments in
// order. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
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

// spoolDump prints the records of one partition, or of every partition of a
// stream, in the NDJSON outputs' shape with the partition and offset first.
func spoolDump(dir, what string, from uint64, out, stderr io.Writer) error {
	keys, err := dumpKeys(dir, what)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
	var line, buf []byte
	for _, k := range keys {
		stream, _ := json.Marshal(k.Stream)
		prefix := fmt.Appendf(nil, `{"stream":%s,"partition":%d,"offset":`, stream, k.Partition)
		err := spool.Scan(dir, k, from, func(b batch.Batch) error {
			it := b.Records()
			var rec batch.Record
			for it.Next(&rec) {
				if rec.Offset < from {
					continue
				}
				// AppendNDJSON writes one object: dump's fields go in
				// front of its own.
				line = delivery.AppendBatchRecord(line[:0], b.SourceAttrs(), &rec)
				buf = strconv.AppendUint(append(buf[:0], prefix...), rec.Offset, 10)
				buf = append(append(buf, ','), line[1:]...)
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			return it.Err()
		}, func(p spool.Problem) { fmt.Fprintf(stderr, "capstan spool dump: %s\n", p) })
		if err != nil {
			return err
		}
	}
	return nil
}

// dumpKeys reads STREAM or STREAM/N: one partition, or every partition of
// the stream on disk.
func dumpKeys(dir, what string) ([]spool.Key, error) {
	if i := strings.LastIndexByte(what, '/'); i > 0 {
		p, err := strconv.Atoi(what[i+1:])
		if err != nil || p < 0 {
			return nil, fmt.Errorf("bad partition in %q: want STREAM or STREAM/N", what)
		}
		return []spool.Key{{Stream: what[:i], Partition: p}}, nil
	}
	all, err := spool.ListPartitions(dir)
	if err != nil {
		return nil, err
	}
	var keys []spool.Key
	streams := map[string]bool{}
	for _, k := range all {
		streams[k.Stream] = true
		if k.Stream == what {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no stream %q in %s (streams: %s)", what, dir, strings.Join(sortedKeys(streams), ", "))
	}
	return keys, nil
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
