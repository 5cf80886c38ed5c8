package applesim

import (
	"context"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
)

// profileType is the media type of a configuration profile, which Safari
// hands to the profile installer.
const profileType = "application/x-apple-aspen-config"

// Registration is what a person types on Portico's registration page.
type Registration struct {
	// Server is Portico's base URL.
	Server   string
	Username string
	// Password or PIN, one of the two.
	Password, PIN string
	// Token is the t= of the registration link, if the device was opened
	// with one.
	Token string
}

// FetchProfile opens the registration page (/go) as the device's Safari
// does, signs in with the form, and returns the enrollment profile the
// server answers with. client must trust the server; nil means the default
// client.
func FetchProfile(ctx context.Context, client *http.Client, m Model, r Registration) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := *client
	browser.Jar = jar
	base := strings.TrimSuffix(r.Server, "/")
	page := base + "/go"
	if r.Token != "" {
		page += "?t=" + url.QueryEscape(r.Token)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", m.SafariUserAgent())
	if _, _, err := send(&browser, req, http.StatusOK); err != nil {
		return nil, fmt.Errorf("opening %s: %w", base+"/go", err)
	}
	form := url.Values{
		"t": {r.Token}, "username": {r.Username}, "password": {r.Password}, "pin": {r.PIN},
		"platform": {string(m.Platform)},
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/go", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", m.SafariUserAgent())
	body, ctype, err := send(&browser, req, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("signing in on %s: %w", base+"/go", err)
	}
	if ctype != profileType {
		return nil, fmt.Errorf("signing in on %s: the answer is %s, not an enrollment profile (%s)", base+"/go", ctype, profileType)
	}
	return body, nil
}

// pageError finds the refusal a page shows.
var pageError = regexp.MustCompile(`(?s)<p class="error"[^>]*>(.*?)</p>`)

// send makes the request and returns the body and media type of an answer
// with status want; another answer is an error with the page's message.
func send(client *http.Client, req *http.Request, want int) ([]byte, string, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, "", err
	}
	ctype, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode != want {
		if m := pageError.FindSubmatch(body); m != nil {
			return nil, "", fmt.Errorf("the server answered %s: %s", res.Status, html.UnescapeString(strings.TrimSpace(string(m[1]))))
		}
		return nil, "", fmt.Errorf("the server answered %s", res.Status)
	}
	return body, ctype, nil
}

// SafariUserAgent is the User-Agent of the device's Safari. An iPad's is
// its mobile one: by default it asks for desktop sites and says it is a
// Mac, which its owner corrects on the page by choosing the iPad.
func (m Model) SafariUserAgent() string {
	parts := strings.Split(m.OSVersion+".0", ".")
	major, _ := strconv.Atoi(parts[0])
	osv := strings.ReplaceAll(m.OSVersion, ".", "_")
	switch m.Platform {
	case portico.PlatformIOS:
		return "Mozilla/5.0 (iPhone; CPU iPhone OS " + osv + " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + parts[0] + "." + parts[1] + " Mobile/15E148 Safari/604.1"
	case portico.PlatformIPadOS:
		return "Mozilla/5.0 (iPad; CPU OS " + osv + " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + parts[0] + "." + parts[1] + " Mobile/15E148 Safari/604.1"
	}
	// Safari on macOS reports 10_15_7 whatever the version; macOS 14 ships
	// Safari 17.
	return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.%s Safari/605.1.15", major+3, parts[1])
}
