package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/portico-mdm/portico"
)

// NetworkChecker refuses a door to a source address.
type NetworkChecker interface {
	CheckNetwork(ctx context.Context, door portico.Door, source string) error
}

// unrestricted are the paths no allow-list applies to: devices and
// monitoring reach them from wherever they are, and static files hold
// nothing to protect.
var unrestricted = []string{"/api/device/", "/mdm/", "/scep", "/healthz", "/readyz", "/metrics", "/static/", "/favicon.ico"}

// signIn are the pages both portals share: signing in and out, the second
// factor, and choosing a password, which an admin kept out of the user
// portal may have to do before reaching the admin portal.
var signIn = []string{"/login", "/logout", TwoFactorPage, ChangePasswordPath, "/reset-password"}

// DoorOf classifies a request path: ok is false for the paths no
// allow-list applies to. Any other path is the user portal's, so a page
// added later is restricted by default.
func DoorOf(path string) (door portico.Door, ok bool) {
	under := func(p string) bool { return path == p || strings.HasPrefix(path, p+"/") }
	switch {
	case under("/admin"):
		return portico.DoorAdmin, true
	case under("/api/v1"):
		return portico.DoorAdminAPI, true
	case slices.ContainsFunc(signIn, under):
		return portico.DoorSignIn, true
	}
	for _, p := range unrestricted {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, p) {
			return "", false
		}
	}
	return portico.DoorPortal, true
}

// AccessRules refuses requests from networks a door's allow-list leaves
// out, with JSON for the admin API and a page for browsers, and logs the
// refusal. It must run after TrustedProxies.Source, whose address it
// checks.
func AccessRules(check NetworkChecker, page ErrorPage, log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			door, ok := DoorOf(r.URL.Path)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			source := portico.ActorFromContext(r.Context()).Source
			err := check.CheckNetwork(r.Context(), door, source)
			if err == nil {
				next.ServeHTTP(w, r)
				return
			}
			if portico.ErrorCode(err) == portico.EFORBIDDEN {
				log.WarnContext(r.Context(), "refused by network allow-list", "door", door, "source", source, "path", r.URL.Path)
			}
			if door == portico.DoorAdminAPI {
				LogError(r, err)
				WriteJSONError(w, Status(err), portico.ErrorCode(err), portico.ErrorMessage(err))
				return
			}
			page(w, r, err)
		})
	}
}
