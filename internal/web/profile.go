package web

import (
	"net/http"

	"github.com/portico-mdm/portico/internal/applemdm"
)

// WriteAppleProfile sends an enrollment profile as Apple devices install
// it, as a download named filename. It holds a one-time challenge, so no
// cache keeps it.
func WriteAppleProfile(w http.ResponseWriter, profile []byte, filename string) error {
	w.Header().Set("Content-Type", applemdm.ProfileContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(profile)
	return err
}
