package servertest

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
)

// File is a file a multipart form uploads.
type File struct {
	Field, Name string
	Data        []byte
}

// PostMultipart posts a multipart/form-data form, as a browser does for a
// form with a file input, to a path of the server.
func (e *Env) PostMultipart(c *http.Client, path string, form url.Values, files ...File) Response {
	e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		part, err := w.CreateFormFile(f.Field, f.Name)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := part.Write(f.Data); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	res, err := c.Post(e.URL+path, w.FormDataContentType(), &body)
	return e.read(res, err)
}
