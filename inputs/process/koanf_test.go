package process

import (
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

// TestSpecThroughKoanf: an input's configuration struct can hold its
// processors as []Spec and koanf fills them, other keys left for the type.
func TestSpecThroughKoanf(t *testing.T) {
	k := koanf.New(".")
	text := []byte("processors:\n  - type: json\n    merge: true\n  - type: filter\n    drop_if: 'attrs.a == 1'\n")
	if err := k.Load(rawbytes.Provider(text), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Processors []Spec `koanf:"processors"`
	}
	if err := k.Unmarshal("", &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Processors) != 2 || cfg.Processors[0].Type != "json" || cfg.Processors[0].Keys["merge"] != true {
		t.Fatalf("specs %+v", cfg.Processors)
	}
	if _, err := New(cfg.Processors, Options{}); err != nil {
		t.Fatal(err)
	}
}
