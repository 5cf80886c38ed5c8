package portico

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasswordPolicy is what a new password must be (SPEC ACC-1), as the admin
// set it on the Passwords settings page.
type PasswordPolicy struct {
	MinLength        int
	LettersAndDigits bool
}

// maxPasswordBytes bounds what a password hash is computed over, so that a
// megabyte typed into the form cannot make the server hash a megabyte.
const maxPasswordBytes = 256

// PasswordPolicy returns the policy the settings set.
func (v SettingValues) PasswordPolicy() PasswordPolicy {
	return PasswordPolicy{
		MinLength:        v.Int("password.min_length"),
		LettersAndDigits: v.Bool("password.letters_and_digits"),
	}
}

// Check refuses a password that breaks the policy, or that is u's user
// name or email address: the first guesses anyone tries. The message never
// repeats the password.
func (p PasswordPolicy) Check(password string, u *User) error {
	switch {
	case utf8.RuneCountInString(password) < p.MinLength:
		return Errorf(EINVALID, "A password has at least %d characters.", p.MinLength)
	case len(password) > maxPasswordBytes:
		return Errorf(EINVALID, "A password has at most %d characters.", maxPasswordBytes)
	case p.LettersAndDigits && !(strings.ContainsFunc(password, unicode.IsLetter) && strings.ContainsFunc(password, unicode.IsDigit)):
		return Errorf(EINVALID, "A password has both letters and digits.")
	case u != nil && (strings.EqualFold(password, u.Username) || strings.EqualFold(password, u.Email) ||
		strings.EqualFold(password, emailLocalPart(u.Email))):
		return Errorf(EINVALID, "A password may not be the user name or the email address.")
	}
	return nil
}

// Rule says what the policy asks, for the form where a password is chosen.
func (p PasswordPolicy) Rule() string {
	rule := fmt.Sprintf("At least %d characters", p.MinLength)
	if p.LettersAndDigits {
		rule += ", with letters and digits"
	}
	return rule + "; not your user name or email address."
}

func emailLocalPart(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return local
}
