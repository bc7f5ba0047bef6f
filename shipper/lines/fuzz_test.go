package lines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
)

// FuzzFileState: whatever the state file holds, the file output either
// refuses it (a damaged state) or recovers a file whose recorded size is
// what the file holds; it never panics.
func FuzzFileState(f *testing.F) {
	f.Add([]byte(`{"version":1,"dev":1,"ino":2,"size":10,"offsets":{"app/0":5}}`), []byte("0123456789abc"))
	f.Add([]byte(`{"version":1,"dev":0,"ino":0,"size":-4,"offsets":{}}`), []byte(""))
	f.Add([]byte(`{"version":1,"size":3,"offsets":{"x":1},"synced":{"version":1,"size":99,"offsets":{}}}`), []byte("abcdef"))
	f.Add([]byte(`{"version":2}`), []byte("x"))
	f.Fuzz(func(t *testing.T, state, file []byte) {
		dir := t.TempDir()
		s := &fileSender{cfg: FileConfig{Path: filepath.Join(dir, "out.log"), MaxBytes: 1 << 20, MaxFiles: 2},
			log: zap.NewNop(), statePath: filepath.Join(dir, "state")}
		os.WriteFile(s.cfg.Path, file, 0o644)
		os.WriteFile(s.statePath, state, 0o644)
		// Half the time the state names the file on disk (the fuzzer cannot
		// guess an inode): its sizes and offsets then meet the file's.
		if st, ok, err := readState(s.statePath); err == nil && ok && len(file)%2 == 0 {
			if fi, err := os.Stat(s.cfg.Path); err == nil {
				st.Dev, st.Ino = identity(fi)
				if st.Synced != nil {
					st.Synced.Dev, st.Synced.Ino = st.Dev, st.Ino
				}
				b, _ := json.Marshal(st)
				os.WriteFile(s.statePath, b, 0o644)
			}
		}
		if err := s.recover(); err != nil {
			return
		}
		defer s.f.Close()
		fi, err := s.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if s.state.Size != fi.Size() {
			t.Fatalf("recorded size %d, the file holds %d", s.state.Size, fi.Size())
		}
	})
}
