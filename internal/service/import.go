package service

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// ImportColumns are the columns a CSV file of users may have, in the order
// the header names them in the example.
var ImportColumns = []string{"username", "email", "name", "phone", "roles"}

const (
	// MaxImportBytes and MaxImportRows bound one import, which is one
	// transaction.
	MaxImportBytes = 1 << 20
	MaxImportRows  = 5000
)

// ImportRow is one line of a CSV file of users and what is wrong with it.
type ImportRow struct {
	// Line is the row's line number in the file, the header being line 1.
	Line     int
	User     portico.User
	Problems []string
	// Warnings are what the admin should look at but that does not stop
	// the import: an email address another user has too, which admins
	// may give several accounts.
	Warnings []string
	// RepeatOf is the line that has the row's user name already, or 0.
	RepeatOf int
}

// ImportPreview is every row of a CSV file of users, checked and nothing
// written yet.
type ImportPreview struct {
	Rows []*ImportRow
	// Bad counts the rows with a problem; an import needs none.
	Bad int
	// Warned counts the rows with a warning.
	Warned int
}

// ImportResult is what an import wrote.
type ImportResult struct {
	Users  []*portico.User
	Mailed int
}

// PreviewImport checks a CSV file of users (admins only) and writes
// nothing. A file it cannot read as a whole (no header, an unknown column,
// too large) is refused with EINVALID; a row's problems are listed with it.
func (s *Service) PreviewImport(ctx context.Context, text string) (*ImportPreview, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.previewImport(ctx, s.store, text)
}

func (s *Service) previewImport(ctx context.Context, st store.Store, text string) (*ImportPreview, error) {
	if len(text) > MaxImportBytes {
		return nil, portico.Errorf(portico.EINVALID, "The file is larger than %d KiB. Split it and import the parts one after another.", MaxImportBytes>>10)
	}
	// A byte order mark, which Excel and PowerShell write, is no part of
	// the first column's name; taken off before the reader sees it, a
	// quoted header after it reads as quoted.
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\uFEFF")))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, portico.Errorf(portico.EINVALID, "The file is empty. Its first line must be the header %s.", strings.Join(ImportColumns, ","))
	} else if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "The header cannot be read: %v.", csvProblem(err))
	}
	cols, err := importHeader(header)
	if err != nil {
		return nil, err
	}
	p := &ImportPreview{}
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if len(p.Rows) == MaxImportRows {
			return nil, portico.Errorf(portico.EINVALID, "The file has more than %d rows. Split it and import the parts one after another.", MaxImportRows)
		}
		row := &ImportRow{}
		if err != nil {
			row.Line = lineOf(err)
			row.Problems = append(row.Problems, "This line cannot be read: "+csvProblem(err)+".")
		} else {
			row.Line, _ = r.FieldPos(0)
			row.check(fields, cols)
		}
		p.Rows = append(p.Rows, row)
	}
	if len(p.Rows) == 0 {
		return nil, portico.Errorf(portico.EINVALID, "The file has a header but no users.")
	}
	if err := markDuplicates(ctx, st, p.Rows); err != nil {
		return nil, err
	}
	if err := markSharedEmails(ctx, st, p.Rows); err != nil {
		return nil, err
	}
	for _, row := range p.Rows {
		if len(row.Problems) > 0 {
			p.Bad++
		}
		if len(row.Warnings) > 0 {
			p.Warned++
		}
	}
	return p, nil
}

func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func lineOf(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.StartLine
	}
	return 0
}

// importHeader returns the index of each column the header names.
func importHeader(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case !slices.Contains(ImportColumns, name):
			return nil, portico.Errorf(portico.EINVALID, "The first line must be the header with the columns %s; %q is not one of them.", strings.Join(ImportColumns, ","), h)
		}
		if _, dup := cols[name]; dup {
			return nil, portico.Errorf(portico.EINVALID, "The header names the column %s twice.", name)
		}
		cols[name] = i
	}
	for _, need := range []string{"username", "email"} {
		if _, ok := cols[need]; !ok {
			return nil, portico.Errorf(portico.EINVALID, "The header has no column %s; the columns are %s.", need, strings.Join(ImportColumns, ","))
		}
	}
	return cols, nil
}

// check reads a row's fields into its user and notes each problem.
func (row *ImportRow) check(fields []string, cols map[string]int) {
	if len(fields) != len(cols) {
		row.Problems = append(row.Problems, fmt.Sprintf("The row has %d fields; the header has %d columns.", len(fields), len(cols)))
		return
	}
	get := func(col string) string {
		if i, ok := cols[col]; ok {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	u := &row.User
	u.Username, u.Email, u.Name, u.Phone = get("username"), get("email"), get("name"), get("phone")
	for r := range strings.SplitSeq(get("roles"), ";") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		role, err := portico.ParseRole(r)
		if err != nil {
			row.Problems = append(row.Problems, fmt.Sprintf("%q is not a portal role.", r))
			continue
		}
		u.Roles = append(u.Roles, role)
	}
	u.Roles = portico.NormalizeRoles(u.Roles)
	if u.Username == "" {
		row.Problems = append(row.Problems, "The user name is missing.")
		return
	}
	if err := u.Validate(); err != nil {
		row.Problems = append(row.Problems, portico.ErrorMessage(err))
	}
}

// markDuplicates notes user names that repeat within the file, in any
// case, and those that users have already.
func markDuplicates(ctx context.Context, st store.Store, rows []*ImportRow) error {
	first := map[string]int{}
	var names []string
	for _, row := range rows {
		name := strings.ToLower(row.User.Username)
		if name == "" || !portico.ValidUsername(name) {
			continue
		}
		if line, seen := first[name]; seen {
			row.RepeatOf = line
			row.Problems = append(row.Problems, fmt.Sprintf("The user name %s is on line %d already.", row.User.Username, line))
			continue
		}
		first[name] = row.Line
		names = append(names, name)
	}
	existing, err := st.ExistingUsernames(ctx, names)
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, n := range existing {
		taken[strings.ToLower(n)] = true
	}
	for _, row := range rows {
		if taken[strings.ToLower(row.User.Username)] && row.RepeatOf == 0 {
			row.Problems = append(row.Problems, fmt.Sprintf("The user name %s is taken by an existing user.", row.User.Username))
		}
	}
	return nil
}

// markSharedEmails warns of email addresses that repeat within the file,
// in any case, and of those that users have already. CreateUser lets
// admins give several accounts one address (a shared mailbox, a person
// with a second account), so neither stops the import; but a typing
// mistake that mails one person's password link to another should be seen.
func markSharedEmails(ctx context.Context, st store.Store, rows []*ImportRow) error {
	first := map[string]int{}
	var emails []string
	for _, row := range rows {
		email := strings.ToLower(row.User.Email)
		if email == "" || len(row.Problems) > 0 {
			continue
		}
		if line, seen := first[email]; seen {
			row.Warnings = append(row.Warnings, fmt.Sprintf("The email address %s is on line %d too.", row.User.Email, line))
			continue
		}
		first[email] = row.Line
		emails = append(emails, email)
	}
	existing, err := st.ExistingEmails(ctx, emails)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, e := range existing {
		has[strings.ToLower(e)] = true
	}
	for _, row := range rows {
		if email := strings.ToLower(row.User.Email); has[email] && first[email] == row.Line {
			row.Warnings = append(row.Warnings, fmt.Sprintf("An existing user has the email address %s too.", row.User.Email))
		}
	}
	return nil
}

// ImportUsers creates every user of a CSV file in one transaction, all or
// none (admins only), and refuses a file with any problem. The users get no
// password anyone knows: each is mailed a one-time link to choose one.
func (s *Service) ImportUsers(ctx context.Context, text string) (*ImportResult, error) {
	action := portico.AuditEntry{Action: "user.import"}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	// One random password, hashed once, stands for all: hashing one per
	// user would take minutes for a large file, and no one ever learns it.
	unusable := s.passwords.HashPassword(secret.NewPassword() + secret.NewPassword())
	res := &ImportResult{}
	err := s.store.InTx(ctx, func(st store.Store) error {
		p, err := s.previewImport(ctx, st, text)
		if err != nil {
			return err
		}
		if p.Bad > 0 {
			return portico.Errorf(portico.EINVALID, "%s a problem. Fix them and preview again; nothing was imported.", rowsWithProblems(p.Bad))
		}
		now := s.clock.Now()
		res.Users, res.Mailed = nil, 0
		for _, row := range p.Rows {
			u := row.User
			u.OwnRoles, u.CreatedAt = u.Roles, now
			if err := st.CreateUser(ctx, &u, unusable); err != nil {
				return err
			}
			if err := s.audit(ctx, st, portico.AuditEntry{Action: "user.create", Target: u.Username,
				Detail: "imported from CSV; roles=" + joinRoles(u.Roles)}); err != nil {
				return err
			}
			link, err := s.newPasswordLink(ctx, st, &u)
			if err != nil {
				return err
			}
			if link.MailedTo != "" {
				res.Mailed++
			}
			res.Users = append(res.Users, &u)
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: action.Action,
			Detail: fmt.Sprintf("%d users imported; %d mailed a password link", len(res.Users), res.Mailed)})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func rowsWithProblems(n int) string {
	if n == 1 {
		return "1 row has"
	}
	return fmt.Sprintf("%d rows have", n)
}
