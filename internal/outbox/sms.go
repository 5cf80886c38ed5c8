package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-mdm/portico"
)

// maxAnswer is how much of a gateway's refusal is kept for admins to read.
const maxAnswer = 500

// sendSMS fills the body template of the settings with m's number and text
// and sends it to the gateway; any 2xx answer is success.
func sendSMS(ctx context.Context, client *http.Client, v portico.SettingValues, m *portico.Message) error {
	get := v.Get("sms.method") == http.MethodGet
	asJSON := v.Get("sms.content_type") == "json" && !get
	escape, contentType := url.QueryEscape, "application/x-www-form-urlencoded"
	if asJSON {
		escape, contentType = jsonString, "application/json"
	}
	// One pass, so that a text that contains "{to}" stays as it is.
	body := strings.NewReplacer("{to}", escape(m.To), "{text}", escape(m.Text)).Replace(v.Get("sms.body"))
	if asJSON && !json.Valid([]byte(body)) {
		return errors.New("the body template does not make JSON (Settings › SMS): put {to} and {text} inside quotes")
	}

	method, target, reqBody := http.MethodPost, v.Get("sms.url"), io.Reader(strings.NewReader(body))
	if get {
		u, err := url.Parse(target)
		if err != nil {
			return err
		}
		u.RawQuery = strings.TrimPrefix(u.RawQuery+"&"+body, "&")
		method, target, reqBody = http.MethodGet, u.String(), nil
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reqBody)
	if err != nil {
		return err
	}
	if !get {
		req.Header.Set("Content-Type", contentType)
	}
	if name, value := v.Get("sms.auth_header"), v.Get("sms.auth_value"); name != "" && value != "" {
		req.Header.Set(name, value)
	}
	res, err := client.Do(req)
	if err != nil {
		// The error names the URL, which may carry an API key; its cause
		// says what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("reaching the gateway: %w", err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	return &gatewayError{status: res.Status, answer: strings.Join(strings.Fields(string(answer)), " ")}
}

// jsonString escapes s for the inside of a JSON string: the template has
// the quotes around the placeholder.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	quoted := strings.TrimSuffix(b.String(), "\n")
	return quoted[1 : len(quoted)-1]
}
