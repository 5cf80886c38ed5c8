package admin

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"strings"
)

// csvFile is a CSV download being written to the browser.
type csvFile struct{ w *csv.Writer }

// newCSV starts a download named filename with the header row. Its
// writes are buffered: errors show at a later row or at close.
func newCSV(w http.ResponseWriter, filename string, header ...string) *csvFile {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	// The export holds users' and devices' details: no cache keeps a copy.
	w.Header().Set("Cache-Control", "no-store")
	f := &csvFile{csv.NewWriter(w)}
	f.row(header...)
	return f
}

// row writes one row. A cell a spreadsheet would read as a formula gets a
// leading apostrophe, so that a device name or a user name typed by anyone
// cannot run as one when an admin opens the export.
func (f *csvFile) row(cells ...string) error {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return f.w.Write(cells)
}

// close writes out what is buffered.
func (f *csvFile) close() error {
	f.w.Flush()
	return f.w.Error()
}

// abortDownload ends a download that failed after it began, when no error
// page can be sent any more: the browser reports a failed download rather
// than keeping a file that looks whole.
func abortDownload(r *http.Request, what string, err error) {
	slog.ErrorContext(r.Context(), what, "err", err)
	panic(http.ErrAbortHandler)
}
