package file

import (
	"os"
	"path/filepath"
	"strings"
)

// glob is a compiled include or exclude pattern: path segments, where a
// segment "**" matches any number of directories.
type glob []string

func compileGlob(pattern string) (glob, error) {
	pattern = filepath.Clean(pattern)
	if !filepath.IsAbs(pattern) {
		return nil, errRelative
	}
	segs := strings.Split(pattern[1:], "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if _, err := filepath.Match(s, ""); err != nil {
			return nil, err
		}
	}
	return segs, nil
}

// match reports whether path (absolute, clean) matches the pattern.
func (g glob) match(path string) bool {
	return matchSegs(g, strings.Split(strings.TrimPrefix(path, "/"), "/"))
}

func matchSegs(p, n []string) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			for i := 0; i <= len(n); i++ {
				if matchSegs(p[1:], n[i:]) {
					return true
				}
			}
			return false
		}
		if len(n) == 0 {
			return false
		}
		if ok, _ := filepath.Match(p[0], n[0]); !ok {
			return false
		}
		p, n = p[1:], n[1:]
	}
	return len(n) == 0
}

// walk finds the regular files (symlinks followed) matching the pattern,
// calling file for each and dir for every directory it read, so that the
// caller can watch them. Symlinked directories are not followed under "**",
// which keeps link loops out.
func (g glob) walk(dir func(string), file func(string)) {
	walkSegs("/", g, dir, file)
}

func walkSegs(base string, segs []string, dir func(string), file func(string)) {
	if len(segs) == 0 {
		return
	}
	seg, rest := segs[0], segs[1:]
	if seg == "**" {
		walkSegs(base, rest, dir, file)
		entries, err := os.ReadDir(base)
		if err != nil {
			return
		}
		dir(base)
		for _, e := range entries {
			if e.IsDir() {
				walkSegs(filepath.Join(base, e.Name()), segs, dir, file)
			}
		}
		return
	}
	if !hasMeta(seg) {
		p := filepath.Join(base, seg)
		if len(rest) == 0 {
			dir(base)
			if isRegular(p) {
				file(p)
			}
			return
		}
		walkSegs(p, rest, dir, file)
		return
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	dir(base)
	for _, e := range entries {
		if ok, _ := filepath.Match(seg, e.Name()); !ok {
			continue
		}
		p := filepath.Join(base, e.Name())
		if len(rest) == 0 {
			if isRegular(p) {
				file(p)
			}
		} else {
			walkSegs(p, rest, dir, file)
		}
	}
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
