package portico

import "testing"

func TestBrandColor(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"#1f5fbf", true}, {"#ABCDEF", true}, {"#000000", true},
		{"1f5fbf", false}, {"#1f5fb", false}, {"#1f5fbf0", false}, {"#gggggg", false}, {"red", false},
		{"#fff", false}, {"", false}, {"#1f5fbf;}body{display:none", false}, {"#1f5fbf\n", false},
	} {
		err := BrandColor(tt.in)
		if (err == nil) != tt.ok || (err != nil && ErrorCode(err) != EINVALID) {
			t.Errorf("BrandColor(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
