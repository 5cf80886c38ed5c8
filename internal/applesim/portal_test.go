package applesim

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

// TestFetchProfileSpeaksThePortalsForm runs the registration form of the
// real portal: its field names and answers. This branch's portal answers an
// Apple device with instructions, not yet a profile, which FetchProfile
// must name as such.
func TestFetchProfileSpeaksThePortalsForm(t *testing.T) {
	env := servertest.New(t)
	env.AddUser("ann", false)
	m, err := NewModel(portico.PlatformIOS, 0, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     string
		token    string
	}{
		{"signed in", servertest.Password("ann"), "the answer is text/html, not an enrollment profile (application/x-apple-aspen-config)", ""},
		{"wrong password", "wrong", "the server answered 401 Unauthorized: The user name or password is wrong.", ""},
		{"a link's token that is not valid", servertest.Password("ann"), "This registration link is not valid.", "no-such-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FetchProfile(context.Background(), nil, m, Registration{Server: env.URL, Username: "ann", Password: tt.password, Token: tt.token})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FetchProfile: %v, want %q", err, tt.want)
			}
		})
	}
}
