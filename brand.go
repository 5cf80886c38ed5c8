package portico

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultPortalName is the portal's name until an admin gives it the
// company's own.
const DefaultPortalName = "Portico"

// DefaultBrandColor is the stylesheet's own primary colour.
const DefaultBrandColor = "#1f5fbf"

func portalName(s string) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(EINVALID, "The portal needs a name.")
	}
	return line(60)(s)
}

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// BrandColor checks a colour: # and six hexadecimal digits. Nothing else
// may reach the stylesheet it is written into.
func BrandColor(s string) error {
	if !colorPattern.MatchString(s) {
		return Errorf(EINVALID, "%q is not a colour written as #rrggbb, for example #1f5fbf.", s)
	}
	return nil
}

// PortalName is the name the portal and its messages go by.
func (v SettingValues) PortalName() string { return v.Get("branding.name") }

// MailFromName is the name mail is sent under: the sender name setting,
// which follows the portal's name unless set, or the portal's name where
// it was set empty.
func (v SettingValues) MailFromName() string {
	if n := v.Get("mail.from_name"); n != "" {
		return n
	}
	return v.PortalName()
}

// Brand is how the portal presents itself on a page.
type Brand struct {
	Name      string
	Color     string // #rrggbb
	LoginText string
	// Logo is the logo without its image, nil when there is none.
	Logo *Logo
}

// Brand returns the brand; logo is the stored logo, or nil.
func (v SettingValues) Brand(logo *Logo) Brand {
	color := strings.ToLower(v.Get("branding.color"))
	if BrandColor(color) != nil {
		color = DefaultBrandColor
	}
	return Brand{Name: v.PortalName(), Color: color, LoginText: v.Get("branding.login_text"), Logo: logo}
}

// CSS is the stylesheet of the brand's colours.
func (b Brand) CSS() string {
	return fmt.Sprintf(":root { --brand: %s; --brand-dark: %s; --on-brand: %s; }\n", b.Color, b.Darker(), b.OnColor())
}

// CSSVersion names the content of CSS: pages link the stylesheet with it,
// so that a browser keeps it until the colour changes and no longer.
func (b Brand) CSSVersion() string {
	sum := sha256.Sum256([]byte(b.CSS()))
	return hex.EncodeToString(sum[:8])
}

// Darker is the colour of a pressed button: the brand colour at 75%.
func (b Brand) Darker() string {
	n, _ := strconv.ParseUint(strings.TrimPrefix(b.Color, "#"), 16, 32)
	r, g, bl := n>>16&0xff, n>>8&0xff, n&0xff
	return fmt.Sprintf("#%02x%02x%02x", r*3/4, g*3/4, bl*3/4)
}

// OnColor is the text colour that reads on the brand colour: white on dark
// colours, near-black on light ones (relative luminance, WCAG).
func (b Brand) OnColor() string {
	n, _ := strconv.ParseUint(strings.TrimPrefix(b.Color, "#"), 16, 32)
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		c := float64(n>>(16-8*i)&0xff) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	// Contrast with white (1.05/(L+0.05)) against black ((L+0.05)/0.05).
	if 1.05/(lum+0.05) >= (lum+0.05)/0.05 {
		return "#ffffff"
	}
	return "#1d2430"
}

// Logo is the portal's logo: a PNG, or an SVG rebuilt from an allow-list.
type Logo struct {
	ContentType string
	Data        []byte
	Size        int // of Data, also when it was not read
	// Digest is the SHA-256 of Data in hex: pages link to the logo with it,
	// so a browser fetches a new logo as soon as it changes.
	Digest    string
	UpdatedAt time.Time
}
