package logo

import (
	"strings"
	"unicode/utf8"
)

// CSS in a logo is rebuilt from an allow-list, like its elements: a
// deny-list of what loads things falls behind browsers, which keep adding
// functions that fetch (image-set(), cross-fade(), src(), …). Properties a
// drawing needs are kept, others are left out; a kept property's value may
// hold only keywords, numbers, colours, the functions below and url(#id),
// and is refused otherwise.

// cssProperties are the properties kept, also as presentation attributes.
var cssProperties = set("fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap",
	"stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity",
	"opacity", "color", "display", "visibility", "overflow", "transform", "transform-origin", "transform-box",
	"font", "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch",
	"text-anchor", "dominant-baseline", "alignment-baseline", "baseline-shift", "letter-spacing",
	"word-spacing", "text-decoration", "white-space", "stop-color", "stop-opacity", "clip-path", "clip-rule",
	"mask", "filter", "flood-color", "flood-opacity", "lighting-color", "marker", "marker-start", "marker-mid",
	"marker-end", "paint-order", "vector-effect", "shape-rendering", "text-rendering", "mix-blend-mode",
	"isolation")

// cssFunctions are the functions a kept value may call: colours and
// transforms, which fetch nothing. url() is checked on its own.
var cssFunctions = set("rgb", "rgba", "hsl", "hsla", "url", "matrix", "translate", "translatex",
	"translatey", "scale", "scalex", "scaley", "rotate", "skewx", "skewy")

// checkStyleSheet checks the text of a <style> element and returns it
// rebuilt: rules of plain selectors and kept declarations, nothing else.
func checkStyleSheet(css string) (string, error) {
	if err := checkCSSAbuse(css); err != nil {
		return "", err
	}
	var out strings.Builder
	rest := css
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.TrimSpace(rest) != "" || strings.IndexByte(rest, '}') >= 0 {
				return "", refuse("its style is not rules of the form selector { property: value }")
			}
			return out.String(), nil
		}
		selector := strings.Join(strings.Fields(rest[:open]), " ")
		if selector == "" || strings.IndexByte(selector, '}') >= 0 {
			return "", refuse("its style is not rules of the form selector { property: value }")
		}
		for _, c := range selector {
			if !isSelectorChar(c) {
				return "", refuse("its style has the selector %q; a logo's selectors may use names, classes, ids and combinators only", selector)
			}
		}
		rest = rest[open+1:]
		end := strings.IndexByte(rest, '}')
		if end < 0 || strings.IndexByte(rest[:end], '{') >= 0 {
			return "", refuse("its style is not rules of the form selector { property: value }")
		}
		decls, err := checkDeclarations(rest[:end])
		if err != nil {
			return "", err
		}
		out.WriteString(selector + "{" + decls + "}")
		rest = rest[end+1:]
	}
}

// checkStyleAttr checks a style attribute and returns it rebuilt.
func checkStyleAttr(css string) (string, error) {
	if err := checkCSSAbuse(css); err != nil {
		return "", err
	}
	if strings.ContainsAny(css, "{}") {
		return "", refuse("its style attribute has braces; it may hold property: value pairs only")
	}
	return checkDeclarations(css)
}

// checkCSSAbuse refuses outright what only an attack or an import would
// put in a logo's style, with the reason, before the allow-list leaves it
// out quietly.
func checkCSSAbuse(css string) error {
	lower := strings.ToLower(css)
	if i := strings.IndexByte(lower, '@'); i >= 0 {
		rule := "@"
		for j := i + 1; j < len(lower) && isNameByte(lower[j]); j++ {
			rule = lower[i : j+1]
		}
		return refuse("its style has the at-rule %q, which a logo may not use", rule)
	}
	for _, bad := range []string{"\\", "/*", "<", "expression", "behavior", "-moz-binding"} {
		if strings.Contains(lower, bad) {
			return refuse("its style has %q, which a logo may not use", bad)
		}
	}
	return checkURLs("style", css)
}

func checkDeclarations(css string) (string, error) {
	var kept []string
	for _, decl := range strings.Split(css, ";") {
		if strings.TrimSpace(decl) == "" {
			continue
		}
		name, value, ok := strings.Cut(decl, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz-") != "" {
			return "", refuse("its style has %q, which is not a property: value pair", strings.TrimSpace(decl))
		}
		if !cssProperties[name] {
			continue
		}
		value = strings.Join(strings.Fields(value), " ")
		if err := checkCSSValue(name, value); err != nil {
			return "", err
		}
		kept = append(kept, name+":"+value)
	}
	return strings.Join(kept, ";"), nil
}

// checkCSSValue refuses a value of the property name that holds anything
// but keywords, numbers, colours, the allowed functions and url(#id).
// Quotes are allowed only around a font's name, which nothing fetches.
func checkCSSValue(name, v string) error {
	// CSS ignores the case of ASCII letters only; lowering others could
	// also change the length, and the offsets into v with it.
	b := []byte(v)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	lower := string(b)
	for i := 0; i < len(lower); {
		c := lower[i]
		switch {
		case c == '"' || c == '\'':
			end := strings.IndexByte(lower[i+1:], c)
			if (name != "font-family" && name != "font") || end < 0 || !plainName(lower[i+1:i+1+end]) {
				return refuse("its %s has a quoted string; only a font's plain name may be quoted", name)
			}
			i += end + 2
		case isNameByte(c):
			j := i
			for j < len(lower) && isNameByte(lower[j]) {
				j++
			}
			if j < len(lower) && lower[j] == '(' {
				fn := lower[i:j]
				if !cssFunctions[fn] {
					return refuse("its %s uses %s(), which a logo may not use; only rgb(), hsl(), transforms and url(#id) are allowed", name, fn)
				}
				if fn == "url" {
					end := strings.IndexByte(lower[j:], ')')
					ref := ""
					if end >= 0 {
						ref = strings.TrimSpace(lower[j+1 : j+end])
					}
					if !strings.HasPrefix(ref, "#") || len(ref) < 2 || strings.Trim(ref[1:], "abcdefghijklmnopqrstuvwxyz0123456789_-.") != "" {
						return refuse("its %s refers to something outside the image with url(); only url(#id) is allowed", name)
					}
					j += end + 1
				} else {
					j++
				}
			}
			i = j
		case strings.IndexByte(" #.,%+()/!", c) >= 0:
			i++
		default:
			c, _ := utf8.DecodeRuneInString(v[i:])
			return refuse("its %s has %q, which a logo's style may not use", name, string(c))
		}
	}
	return nil
}

// isNameByte reports whether c is part of a CSS name, lower-cased: a
// letter of any script (a byte of a multi-byte character), a digit, - or _.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= utf8.RuneSelf
}

// plainName reports whether a quoted font name is names and spaces only.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) && s[i] != ' ' {
			return false
		}
	}
	return true
}

func isSelectorChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.ContainsRune("-_.#,>+~*: ()", c)
}
