package k8stest

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// capstanConfig is the part of capstan's YAML configuration that the
// manifests must agree with. The agent itself validates the whole file
// (`capstan validate -c`); here it is read loosely, for cross-checks only.
type capstanConfig struct {
	DataDir string `json:"data_dir"`
	HTTP    struct {
		Address string `json:"address"`
	} `json:"http"`
	Streams map[string]struct {
		MaxBytes string `json:"max_bytes"`
	} `json:"streams"`
	Inputs map[string]struct {
		Type    string   `json:"type"`
		Stream  string   `json:"stream"`
		Include []string `json:"include"`
		Exclude []string `json:"exclude"`
		Listen  []string `json:"listen"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Type      string   `json:"type"`
		Streams   []string `json:"streams"`
		Endpoints []string `json:"endpoints"`
	} `json:"outputs"`
	ShutdownGrace string `json:"shutdown_grace"`
}

// configFile is a capstan configuration found in a ConfigMap.
type configFile struct {
	ConfigMap *corev1.ConfigMap
	Key       string
	Config    capstanConfig
}

func parseConfig(text string) (capstanConfig, error) {
	var cfg capstanConfig
	if err := sigsyaml.Unmarshal([]byte(text), &cfg); err != nil {
		return cfg, err
	}
	if cfg.DataDir == "" {
		return cfg, fmt.Errorf("data_dir is not set")
	}
	if cfg.ShutdownGrace == "" {
		return cfg, fmt.Errorf("shutdown_grace is not set (the pod's grace period is checked against it)")
	}
	if _, err := time.ParseDuration(cfg.ShutdownGrace); err != nil {
		return cfg, fmt.Errorf("shutdown_grace: %w", err)
	}
	return cfg, nil
}

func (c capstanConfig) shutdownGrace() time.Duration {
	d, _ := time.ParseDuration(c.ShutdownGrace) // checked in parseConfig
	return d
}

// httpPort is the port of http.address, which must listen on every
// interface: the kubelet probes the pod IP.
func (c capstanConfig) httpPort() (int32, error) {
	return listenPort("http.address", c.HTTP.Address)
}

// forwardPort is the port of the configuration's forward input, 0 if it has
// none. It must listen on one port, on every interface.
func (c capstanConfig) forwardPort() (int32, error) {
	for name, in := range c.Inputs {
		if in.Type != "forward" {
			continue
		}
		if len(in.Listen) != 1 {
			return 0, fmt.Errorf("inputs.%s.listen: want one address, got %q", name, in.Listen)
		}
		return listenPort("inputs."+name+".listen", in.Listen[0])
	}
	return 0, nil
}

func listenPort(key, addr string) (int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", key, addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		return 0, fmt.Errorf("%s %q listens on %s only: probes, Services and scrapes reach the pod IP", key, addr, host)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s %q: bad port", key, addr)
	}
	return int32(n), nil
}

// spoolBytes is the sum of max_bytes over all streams, or 0 if a stream is
// unbounded.
func (c capstanConfig) spoolBytes() (int64, error) {
	var total int64
	for name, s := range c.Streams {
		if s.MaxBytes == "" {
			return 0, nil
		}
		n, err := parseSize(s.MaxBytes)
		if err != nil {
			return 0, fmt.Errorf("streams.%s.max_bytes: %w", name, err)
		}
		total += n
	}
	return total, nil
}

// parseSize reads sizes the way capstan's configuration writes them: a number
// with an optional B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB) suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with B, KiB, MiB, GiB or TiB", s)
	}
	return n * mult, nil
}

// globRoot is the directory part of a glob before its first pattern
// character: /var/log/containers/*.log → /var/log/containers.
func globRoot(glob string) string {
	dir := glob
	if i := strings.IndexAny(dir, "*?[{"); i >= 0 {
		dir = dir[:i]
		return path.Clean(dir[:strings.LastIndex(dir, "/")+1])
	}
	return path.Dir(path.Clean(dir))
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
