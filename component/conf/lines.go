package conf

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// keyLines maps the key paths of a YAML document to the lines they are on,
// so that an error can say where to look. It is the YAML library koanf's
// parser uses, read a second time as a node tree.
func keyLines(data []byte) map[string]int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	lines := map[string]int{}
	var walk func(path string, n *yaml.Node, depth int)
	walk = func(path string, n *yaml.Node, depth int) {
		if depth > 64 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(path, c, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := Join(path, k.Value)
				lines[p] = k.Line
				walk(p, v, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				lines[p] = c.Line
				walk(p, c, depth+1)
			}
		}
	}
	walk("", &doc, 0)
	return lines
}

// LineOf is the line of path, or of its nearest ancestor in the file (a
// missing key is reported at the section that lacks it); 0 if none.
func LineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[ ")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}
