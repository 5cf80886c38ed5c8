package applesim

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"howett.net/plist"
)

// keysOf is the sorted key set of a dictionary.
func keysOf(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// capture reads one of the device captures in testdata/captures (see
// SOURCES.md there).
func capture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := plist.Unmarshal(bytes.ReplaceAll(b, []byte(`\'`), []byte("'")), &m); err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	return m
}
