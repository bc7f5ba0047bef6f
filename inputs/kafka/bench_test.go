package kafka

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/capstan-agent/capstan/component/conf"
	"github.com/capstan-agent/capstan/shipper/kafka/kafkatest"
)

// BenchmarkKafkaToSpool: b.N records of 200 bytes, produced to a 4-partition
// topic of the helper cluster beforehand, read by the input into a real
// spool (page cache, fsync never). It reports lines/s from the start of the
// input to the last record in the spool, the test process's CPU per line
// (the cluster runs in its own process and is not counted), and the largest
// RSS seen while the input ran.
func BenchmarkKafkaToSpool(b *testing.B) {
	c := kafkatest.Start(b, kafkatest.Options{AutoCreateTopics: true, DefaultPartitions: 4})
	runs := 0
	for _, fetch := range []int{4 << 20, 16 << 20, 50 << 20} {
		b.Run("fetch_max_bytes="+strconv.Itoa(fetch>>20)+"MiB", func(b *testing.B) {
			runs++
			benchToSpool(b, c, "logs-"+strconv.Itoa(runs), fetch)
		})
	}
}

func benchToSpool(b *testing.B, c *kafkatest.Cluster, topic string, fetchMax int) {
	c.CreateTopic(topic, 4, nil) // a topic per run: -count reruns with the same b.N
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20))
	// Log-like values that compress about as well as logs do (not a run of
	// one byte, which the producer's compression would shrink 20 times and
	// the consumer blow up again): words from a small vocabulary.
	words := strings.Fields("GET POST /api/v1/users /healthz 200 404 500 user_id= latency_ms= ok error timeout request served from cache db query took ms level=info level=warn")
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([][]byte, 1024)
	for i := range values {
		var v []byte
		for len(v) < 200 {
			v = append(v, words[rng.IntN(len(words))]...)
			v = strconv.AppendInt(append(v, ' '), int64(rng.IntN(100000)), 10)
			v = append(v, ' ')
		}
		values[i] = v[:200]
	}
	const chunk = 20_000
	for i := 0; i < b.N; i += chunk {
		recs := make([]*kgo.Record, 0, chunk)
		for j := i; j < min(i+chunk, b.N); j++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(j % 4), Value: values[j%len(values)]})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	cl.Close()
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes()

	sp, st := openSpool(b, b.TempDir(), 2)
	cfg := testConfig(c, topic)
	cfg.FetchMaxBytes = conf.Size(fetchMax)
	b.SetBytes(200)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	m := startMember(b, cfg, sp, st)
	peak := base
	deadline := time.Now().Add(10 * time.Minute)
	for count(st) < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("waited 10m for %d records in the spool; it holds %d", b.N, count(st))
		}
		peak = max(peak, rssBytes())
		time.Sleep(20 * time.Millisecond)
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	m.stop()
	b.ReportMetric(float64(b.N)/el.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "cpu-µs/line")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(base)/(1<<20), "base-RSS-MiB")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes is the process's resident set now (VmRSS), 0 if unknown.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
