package admin

import (
	"encoding/csv"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestCSVNeutralisesFormulas(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1 555", "'+1 555"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\r=1", "'\r=1"},
		{"plain", "plain"},
		{"a=b", "a=b"},
	}
	rec := httptest.NewRecorder()
	f := newCSV(rec, "x.csv", "cell")
	for _, tt := range tests {
		if err := f.row(tt.in); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if ct, cd := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") || cd != `attachment; filename="x.csv"` {
		t.Errorf("headers %q, %q", ct, cd)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
	}
	var want []string
	for _, tt := range tests {
		want = append(want, tt.want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("cells %q, want %q", got, want)
	}
}
