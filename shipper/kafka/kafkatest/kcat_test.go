package kafkatest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat runs kcat with args and stdin, and returns its standard output.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, Kcat(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return lines
}

// Debian's kcat (librdkafka) — a client independent of franz-go — reads the
// helper cluster's metadata, produces into it, and consumes from it at both
// isolation levels and in a consumer group.
func TestKcatTalksToTheCluster(t *testing.T) {
	Kcat(t)
	c := Start(t, Options{Brokers: 3, Topics: map[string]int32{"logs": 2}})
	b := c.BrokerList()

	var md struct {
		Brokers []struct{ Name string } `json:"brokers"`
		Topics  []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int `json:"partition"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(kcat(t, "", "-L", "-J", "-b", b)), &md); err != nil {
		t.Fatalf("kcat -L -J: %v", err)
	}
	if len(md.Brokers) != 3 || len(md.Topics) != 1 || md.Topics[0].Topic != "logs" || len(md.Topics[0].Partitions) != 2 {
		t.Errorf("kcat -L saw %+v", md)
	}

	p := txnProducer(t, c, "capstan-kcat")
	transaction(t, p, "logs", true, rec(0, "c1"), rec(0, "c2"), rec(1, "c3"))
	transaction(t, p, "logs", false, rec(0, "x1"))
	consume := []string{"-C", "-b", b, "-t", "logs", "-o", "beginning", "-e", "-q", "-f", `%s\n`}
	if got := sortedLines(kcat(t, "", append(consume, "-X", "isolation.level=read_committed")...)); !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Errorf("kcat read_committed saw %q", got)
	}
	if got := sortedLines(kcat(t, "", append(consume, "-X", "isolation.level=read_uncommitted")...)); !slices.Equal(got, []string{"c1", "c2", "c3", "x1"}) {
		t.Errorf("kcat read_uncommitted saw %q", got)
	}

	// kcat as the producer: keyed, with a header, idempotent and zstd; then
	// in a transaction of its own.
	kcat(t, "k1:v1\nk2:v2\n", "-P", "-b", b, "-t", "logs", "-p", "1", "-K:", "-H", "source=kcat",
		"-z", "zstd", "-X", "enable.idempotence=true")
	kcat(t, "t1\n", "-P", "-b", b, "-t", "logs", "-p", "1", "-X", "transactional.id=kcat-txn")
	var fromKcat []string
	for _, r := range c.ReadAll("logs", ReadCommitted, waitFor) {
		if r.Partition != 1 || string(r.Value) == "c3" {
			continue
		}
		fromKcat = append(fromKcat, string(r.Key)+"="+string(r.Value)+" "+headers(r))
	}
	if want := []string{"k1=v1 source=kcat", "k2=v2 source=kcat", "=t1 "}; !slices.Equal(fromKcat, want) {
		t.Errorf("franz-go read what kcat produced as %q, want %q", fromKcat, want)
	}

	// kcat in a consumer group reads every committed record once.
	got := sortedLines(kcat(t, "", "-b", b, "-G", "kcat-group", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", `%s\n`, "logs"))
	if want := []string{"c1", "c2", "c3", "t1", "v1", "v2"}; !slices.Equal(got, want) {
		t.Errorf("kcat -G saw %q, want %q", got, want)
	}
}

func headers(r *kgo.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return strings.Join(hs, ",")
}
