package admin_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

func TestAdminResetsSecondFactor(t *testing.T) {
	e := servertest.New(t)
	alice := e.AddUser("alice", false)
	e.AddUser("root", true)
	as := portico.NewContextWithActor(t.Context(), portico.Actor{User: alice, Source: "192.0.2.1"})
	if err := e.Service.StartTwoFactor(as); err != nil {
		t.Fatal(err)
	}
	tf, err := e.Service.TwoFactor(as)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(tf.Pending.Secret, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ConfirmTwoFactor(as, code); err != nil {
		t.Fatal(err)
	}
	root := e.SignIn("root")
	page := "/admin/users/" + strconv.FormatInt(alice.ID, 10)
	if res := e.Get(root, page); !strings.Contains(res.Body, "Reset two-step sign-in") {
		t.Fatalf("user page lacks the reset:\n%s", res.Body)
	}
	if res := e.PostForm(root, page+"/two-factor/reset", nil); res.Status != http.StatusBadRequest {
		t.Errorf("reset without confirming: status %d", res.Status)
	}
	res := e.PostForm(root, page+"/two-factor/reset", url.Values{"confirm": {"yes"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("reset: status %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(root, page); !strings.Contains(res.Body, "Two-step sign-in of alice is off") || strings.Contains(res.Body, "Reset two-step sign-in") {
		t.Errorf("after the reset:\n%s", res.Body)
	}
	// alice signs in with her password alone again.
	if res := e.PostForm(e.Browser(), "/login", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}}); res.Header.Get("Location") != "/" {
		t.Errorf("sign-in after the reset goes to %q", res.Header.Get("Location"))
	}
}
