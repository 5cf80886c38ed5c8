package web

import (
	"net/http"
	"strings"

	"github.com/portico-mdm/portico"
)

// BearerToken returns the token of the request's "Authorization: Bearer"
// header, in any case of the scheme, or "" when there is none.
func BearerToken(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// RefuseJSON answers a JSON API's refused request with err; a 401 names
// the Bearer scheme, as the JSON APIs take their credentials that way.
func RefuseJSON(w http.ResponseWriter, r *http.Request, err error) {
	LogError(r, err)
	status := Status(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	WriteJSONError(w, status, portico.ErrorCode(err), portico.ErrorMessage(err))
}
