package web

import (
	"net/http"
	"testing"
)

func TestAPIReadRoutesAreReadsOnly(t *testing.T) {
	pass := func(next http.Handler) http.Handler { return next }
	tests := []struct {
		pattern string
		access  Access
		panics  bool
	}{
		{"GET /api/v1/users", APIRead, false},
		{"HEAD /api/v1/users", APIRead, false},
		{"POST /api/v1/users", APIRead, true},
		{"PUT /api/v1/users/{id}/roles", APIRead, true},
		{"PATCH /api/v1/settings", APIRead, true},
		{"DELETE /api/v1/users/{id}", APIRead, true},
		{"/api/v1/any-method", APIRead, true},
		{"POST /api/v1/users", APIWrite, false},
		{"GET /api/v1/audit", APIWrite, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" as "+tt.access.String(), func(t *testing.T) {
			m := NewMux(map[Access]Guard{APIRead: pass, APIWrite: pass})
			defer func() {
				if got := recover() != nil; got != tt.panics {
					t.Errorf("panicked: %t, want %t", got, tt.panics)
				}
			}()
			m.Handle(tt.pattern, tt.access, http.NotFoundHandler())
		})
	}
}
