package web

import (
	"fmt"
	"net/http"

	"github.com/portico-mdm/portico"
)

// UnmatchedJSON answers every request under a JSON API's prefix that no
// route takes, so that its callers get the API's JSON errors instead of
// the mux's plain text: 405 with Allow when the path exists for another
// method, else 404. known is a mux of the API's routes; name is the API's
// name as the message says it ("the device API").
func UnmatchedJSON(known *http.ServeMux, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := known.Handler(r)
		probe := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			WriteJSONError(w, http.StatusMethodNotAllowed, portico.EINVALID,
				fmt.Sprintf("%s is not allowed here; this call takes %s.", r.Method, probe.header.Get("Allow")))
			return
		}
		WriteJSONError(w, http.StatusNotFound, portico.ENOTFOUND, fmt.Sprintf("There is no such call in %s.", name))
	})
}

// headerRecorder keeps the status and headers of a response and drops its
// body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }
