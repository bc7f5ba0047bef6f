package componenttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StrictJSON decodes one JSON log line as a strict consumer (Elasticsearch
// among them) does: a key twice in one object, or anything after the value,
// is an error.
func StrictJSON(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var walk func() (any, error)
	walk = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			obj := map[string]any{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := k.(string)
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("duplicate key %q", key)
				}
				if obj[key], err = walk(); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token()
			return obj, err
		case json.Delim('['):
			var arr []any
			for dec.More() {
				v, err := walk()
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		return tok, nil
	}
	v, err := walk()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}
