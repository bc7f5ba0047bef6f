package process

import (
	"errors"
	"strings"
	"testing"
)

// TestConfigErrors: every bad configuration is refused with the key path
// relative to the chain and a message that says what is wrong.
func TestConfigErrors(t *testing.T) {
	streams := Options{Streams: []string{"prod", "debug"}}
	cases := []struct {
		name, chain string
		opts        Options
		want        []string // lines of the error, in order
	}{
		{"unknown name in an expression, with its column", `
- {type: json, merge: true}
- {type: set, field: x, value: y}
- {type: filter, drop_if: 'lvl == "debug"'}`, Options{},
			[]string{`processors[2].drop_if: unknown name lvl (column 1)`}},
		{"column of a later token", "- {type: filter, keep_if: 'body contains 3 +'}", Options{},
			[]string{`processors[0].keep_if: unexpected token EOF (column 17)`}},
		{"a condition that cannot be a bool", "- {type: filter, drop_if: 'len(body)'}", Options{},
			[]string{`processors[0].drop_if: expected bool, but got int`}},
		{"unknown type", "- {type: jsn}", Options{},
			[]string{`processors[0].type: unknown processor type "jsn" (types: copy, delete, filter, json, keep, logfmt, redact, regex, rename, route, sample, set, throttle, timestamp); did you mean "json"?`}},
		{"no type", "- {merge: true}", Options{},
			[]string{`processors[0].type: needed (types: copy, delete, filter, json, keep, logfmt, redact, regex, rename, route, sample, set, throttle, timestamp)`}},
		{"unknown key", "- {type: json, merge: true, mege: false}", Options{},
			[]string{`processors[0].mege: unknown key; did you mean "merge"?`}},
		{"wrong value type", "- {type: json, merge: maybe, max_depth: deep}", Options{},
			[]string{`processors[0].max_depth: expected an integer, got "deep"`, `processors[0].merge: expected true or false, got "maybe"`}},
		{"not a list", "{type: json}", Options{},
			[]string{`processors: want a list of processors, got a map`}},
		{"regex without named groups", `- {type: regex, pattern: '\d+'}`, Options{},
			[]string{`processors[0].pattern: has no named group (?P<name>...): it would set no field`}},
		{"regex that does not compile", `- {type: regex, pattern: '(?P<a>'}`, Options{},
			[]string{"processors[0].pattern: error parsing regexp: missing closing ): `(?P<a>`"}},
		{"a later step uses a group the regex does not have", `
- {type: regex, pattern: '(?P<status>\d+) (?P<path>\S+)'}
- {type: timestamp, field: time, layouts: [common_log]}
- {type: filter, drop_if: 'attrs.statsu == 200'}`, Options{},
			[]string{
				`processors[1].field: field "time" is set by no earlier processor nor the input (fields here: path, status)`,
				`processors[2].drop_if: field "statsu" is set by no earlier processor nor the input (did you mean status?)`}},
		{"a field deleted earlier", `
- {type: regex, pattern: '(?P<a>.)'}
- {type: delete, fields: [a]}
- {type: copy, from: a, to: b}`, Options{},
			[]string{`processors[2].from: field "a" is set by no earlier processor nor the input (no field can be set here)`}},
		{"a field removed under an if is still possible", `
- {type: regex, pattern: '(?P<a>.)'}
- {type: delete, fields: [a], if: 'body == "x"'}
- {type: copy, from: a, to: b}`, Options{}, nil},
		{"json merge opens every name", `
- {type: json, merge: true}
- {type: copy, from: anything, to: b}`, Options{}, nil},
		{"json merge under a target opens its prefix only", `
- {type: json, merge: true, target: app}
- {type: copy, from: app.x, to: b}
- {type: copy, from: x, to: c}`, Options{},
			[]string{`processors[2].from: field "x" is set by no earlier processor nor the input (fields here: app.*, b)`}},
		{"the input's fields", "- {type: copy, from: severity, to: level}\n- {type: copy, from: sd.x.y, to: z}", Options{InputFields: []string{"severity", "sd.*"}}, nil},
		{"keep that keeps nothing", `
- {type: regex, pattern: '(?P<a>.)'}
- {type: keep, fields: [b, 'c.*']}`, Options{},
			[]string{`processors[1].fields: keeps nothing: none of b, c.* can be set here`}},
		{"keep without fields", "- {type: keep}", Options{},
			[]string{`processors[0].fields: needed: a keep without fields would delete every field`}},
		{"after keep only kept fields exist", `
- {type: json, merge: true}
- {type: keep, fields: [a]}
- {type: copy, from: b, to: c}`, Options{},
			[]string{`processors[2].from: field "b" is set by no earlier processor nor the input (fields here: a)`}},
		{"route to an undeclared stream", `
- type: route
  cases: [{if: 'true', stream: prod}, {if: 'false', stream: dbg}]
  default: nope`, streams,
			[]string{`processors[0].cases[1].stream: stream "dbg" is not declared (streams: prod, debug)`,
				`processors[0].default: stream "nope" is not declared (streams: prod, debug)`}},
		{"route expression with an undeclared constant", `- {type: route, expression: 'body == "x" ? "prod" : "staging"'}`, streams,
			[]string{`processors[0].expression: stream "staging" is not declared (streams: prod, debug)`}},
		{"route keys", "- {type: route}\n- {type: route, expression: 'x', cases: [{stream: prod}]}", streams,
			[]string{`processors[0].expression: needed (or cases)`,
				`processors[1].cases: set either expression or cases`, `processors[1].cases[0].if: needed`}},
		{"filter keys", "- {type: filter}\n- {type: filter, drop_if: 'true', keep_if: 'true'}", Options{},
			[]string{`processors[0].drop_if: needed (or keep_if)`, `processors[1].keep_if: set either drop_if or keep_if`}},
		{"set keys", "- {type: set}\n- {type: set, field: a, body: true, value: x, expression: '1'}\n- {type: set, field: a, value: '${x'}", Options{},
			[]string{`processors[0].field: needed (or body: true)`, `processors[0].value: needed (or expression)`,
				`processors[1].body: set either field or body: true`, `processors[1].expression: set either value or expression`,
				`processors[2].value: unclosed ${ (write $$ for a literal $)`}},
		{"json keys", "- {type: json}\n- {type: json, body_from: m, max_depth: 500, on_error: explode}", Options{},
			[]string{`processors[0].target: needed without merge: the field that gets the parsed value`,
				`processors[1].on_error: "explode": want flag, keep or drop`,
				`processors[1].target: needed without merge: the field that gets the parsed value`,
				`processors[1].body_from: needs merge: true`, `processors[1].max_depth: 500: want 1 to 128`}},
		{"timestamp keys", "- {type: timestamp, layouts: [rfc9999, 'no digits'], timezone: Mars/Olympus}", Options{},
			[]string{`processors[0].field: needed: the field that holds the time`,
				`processors[0].layouts[0]: "rfc9999" is neither a layout name nor a Go layout (like 2006-01-02 15:04:05)`,
				`processors[0].layouts[1]: "no digits" is neither a layout name nor a Go layout (like 2006-01-02 15:04:05)`,
				`processors[0].timezone: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"redact keys", "- {type: redact, detectors: [cards], action: hash, hash_key: short, patterns: ['(']}\n- {type: redact, action: drop_field}", Options{},
			[]string{`processors[0].detectors[0]: unknown detector "cards" (detectors: card, email, jwt, aws_key, github_token, slack_token, bearer)`,
				"processors[0].patterns[0]: error parsing regexp: missing closing ): `(`",
				`processors[0].hash_key: needed for action hash: at least 16 bytes`,
				`processors[1].body: action drop_field cannot drop the body: set body: false`}},
		{"throttle and sample keys", "- {type: throttle, rate: 0, burst: -1, max_keys: 0}\n- {type: sample}\n- {type: sample, rate: 2, key: 'a +'}", Options{},
			[]string{`processors[0].rate: 0: want records per second, more than 0 and at most 1e9`,
				`processors[0].burst: -1: want at least 1`, `processors[0].max_keys: 0: want at least 1`,
				`processors[1].rate: 0: want N of keep 1 in N, at least 1`,
				`processors[2].key: unexpected token EOF (column 3)`}},
		{"regex types", "- {type: regex, pattern: '(?P<a>.)', types: {a: integer, b: int}}", Options{},
			[]string{`processors[0].types.a: "integer": want string, int, float or bool`,
				`processors[0].types.b: no group "b" in the pattern (groups: a)`}},
		{"an if that does not compile", "- {type: delete, fields: [x], if: 'body =='}", Options{},
			[]string{`processors[0].if: unexpected token EOF (column 7)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildYAML(tc.chain, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var fe Errors
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			if got := err.Error(); got != strings.Join(tc.want, "\n") {
				t.Fatalf("error:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}
