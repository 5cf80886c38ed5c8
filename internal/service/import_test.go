package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

const importHeader = "username,email,name,phone,roles\n"

func TestPreviewImportRowProblems(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "taken", false)
	tests := []struct {
		name, row, want string
	}{
		{"good", "carol,carol@example.com,Carol,+41 79 000 00 00,lock;wipe", ""},
		{"bad email", "dave,dave@,Dave,,", "not an email address"},
		{"missing user name", ",x@example.com,X,,", "user name is missing"},
		{"unknown role", "erin,erin@example.com,Erin,,lock;fly", `"fly" is not a portal role`},
		{"too few fields", "frank,frank@example.com", "has 2 fields; the header has 5"},
		{"too many fields", "gina,gina@example.com,G,,,extra", "has 6 fields"},
		{"existing user, other case", "TAKEN,t@example.com,,,", "taken by an existing user"},
		{"bad phone", "hank,hank@example.com,,call me,", "not a phone number"},
		{"bad quote", `ivy,"ivy@example.com,,,`, "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.PreviewImport(e.op, importHeader+tt.row+"\n")
			if err != nil {
				t.Fatal(err)
			}
			row := p.Rows[0]
			got := strings.Join(row.Problems, " ")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) || row.Line != 2 {
				t.Errorf("line %d problems %q, want %q on line 2", row.Line, got, tt.want)
			}
		})
	}
	p, err := e.svc.PreviewImport(e.op, importHeader+"kim,k1@example.com,,,\nbob,b@example.com,,,\nKim,k2@example.com,,,\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Bad != 1 || len(p.Rows[2].Problems) != 1 || !strings.Contains(p.Rows[2].Problems[0], "on line 2 already") {
		t.Errorf("a user name twice in the file: %+v", p.Rows[2])
	}
	if users, _ := e.svc.Users(e.op); len(users) != 1 {
		t.Errorf("a preview wrote users: %d", len(users))
	}
}

func TestPreviewImportFileProblems(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "empty"},
		{"no header", "carol,carol@example.com,Carol,,\n", `"carol" is not one of them`},
		{"unknown column", "username,email,department\n", `"department" is not one of them`},
		{"column twice", "username,email,email\n", "twice"},
		{"no email column", "username,name\n", "no column email"},
		{"header only", importHeader, "no users"},
		{"too many rows", importHeader + strings.Repeat("a,a@example.com,,,\n", service.MaxImportRows+1), "more than 5000 rows"},
		{"too large", importHeader + strings.Repeat("x", service.MaxImportBytes), "larger than 1024 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.PreviewImport(e.op, tt.text)
			wantCode(t, err, portico.EINVALID)
			if !strings.Contains(portico.ErrorMessage(err), tt.want) {
				t.Errorf("message %q does not say %q", portico.ErrorMessage(err), tt.want)
			}
		})
	}
}

func TestImportUsersAllOrNone(t *testing.T) {
	e := newEnv(t)
	var rows strings.Builder
	rows.WriteString("email,username,roles\n") // any order of columns
	for i := range 30 {
		fmt.Fprintf(&rows, "u%02d@example.com,u%02d,lock;register_device\n", i, i)
	}
	bad := rows.String() + "u99@,u99,\n"
	_, err := e.svc.ImportUsers(e.op, bad)
	wantCode(t, err, portico.EINVALID)
	if users, _ := e.svc.Users(e.op); len(users) != 0 {
		t.Fatalf("a refused import wrote %d users", len(users))
	}

	res, err := e.svc.ImportUsers(e.op, rows.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Users) != 30 || res.Mailed != 30 {
		t.Errorf("imported %d, mailed %d", len(res.Users), res.Mailed)
	}
	u, err := e.svc.UserByUsername(e.op, "u07")
	if err != nil || !u.HasRole(portico.RoleLock) || !u.HasRole(portico.RoleRegisterDevice) {
		t.Fatalf("u07: %+v, %v", u, err)
	}
	// No password works until the user chose one with the mailed link.
	_, err = e.svc.Login(from("192.0.2.20"), "u07", "")
	wantCode(t, err, portico.EUNAUTHENTICATED)
	token := linkToken(t, e.mailedLink(t, "u07@example.com"))
	if _, err := e.svc.SetPasswordWithLink(from("x"), token, service.NewPassword{Password: "chosen-pass-07", Repeat: "chosen-pass-07"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(from("192.0.2.20"), "u07", "chosen-pass-07"); err != nil {
		t.Errorf("sign-in with the chosen password: %v", err)
	}
	if n := len(audit(t, e, "user.create")); n != 30 {
		t.Errorf("%d user.create entries, want 30", n)
	}
	// The same file again: every user name is taken now.
	p, err := e.svc.PreviewImport(e.op, rows.String())
	if err != nil || p.Bad != 30 {
		t.Errorf("the file again: %d bad rows, %v", p.Bad, err)
	}
	msgs, _ := e.db.ListMessages(context.Background(), store.MessageFilter{Limit: 100})
	if len(msgs) != 30 {
		t.Errorf("%d messages, want 30", len(msgs))
	}
}

// A user name the file repeats is reported once as a repeat, even when an
// existing user has it too.
func TestPreviewImportRepeatedTakenName(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "taken", false)
	p, err := e.svc.PreviewImport(e.op, importHeader+"taken,a@example.com,,,\nTaken,b@example.com,,,\n")
	if err != nil {
		t.Fatal(err)
	}
	first, repeat := p.Rows[0], p.Rows[1]
	if len(first.Problems) != 1 || !strings.Contains(first.Problems[0], "taken by an existing user") || first.RepeatOf != 0 {
		t.Errorf("line 2: %+v", first)
	}
	if len(repeat.Problems) != 1 || !strings.Contains(repeat.Problems[0], "on line 2 already") || repeat.RepeatOf != 2 {
		t.Errorf("line 3: %+v", repeat)
	}
}

// Admins may give several accounts one address, as CreateUser does, so a
// shared address is a warning that does not stop the import.
func TestImportWarnsOfSharedEmails(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "desk", false) // desk@example.com
	text := importHeader + "ann,ann@example.com,,,\nann2,ANN@example.com,,,\ncarl,Desk@Example.com,,,\ndora,dora@example.com,,,\n"
	p, err := e.svc.PreviewImport(e.op, text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "ANN@example.com is on line 2 too", "An existing user has the email address Desk@Example.com too", ""}
	for i, row := range p.Rows {
		got := strings.Join(row.Warnings, " ")
		if (want[i] == "") != (got == "") || !strings.Contains(got, want[i]) || len(row.Problems) != 0 {
			t.Errorf("line %d: warnings %q problems %q, want warning %q", row.Line, got, row.Problems, want[i])
		}
	}
	if p.Bad != 0 || p.Warned != 2 {
		t.Errorf("%d bad and %d warned rows, want 0 and 2", p.Bad, p.Warned)
	}
	res, err := e.svc.ImportUsers(e.op, text)
	if err != nil || len(res.Users) != 4 {
		t.Fatalf("import with shared addresses: %+v, %v", res, err)
	}
}

// Excel and PowerShell's Export-Csv start the file with a byte order mark,
// and PowerShell quotes every field, the header's too.
func TestImportReadsAByteOrderMark(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{
		"\uFEFF\"username\",\"email\",\"name\",\"phone\",\"roles\"\r\n\"nina\",\"nina@example.com\",\"Nina\",\"\",\"lock\"\r\n",
		"\uFEFFusername,email\nnina,nina@example.com\n",
	} {
		p, err := e.svc.PreviewImport(e.op, text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if p.Bad != 0 || p.Rows[0].User.Username != "nina" || p.Rows[0].User.Email != "nina@example.com" {
			t.Errorf("%q: %+v", text, p.Rows[0])
		}
	}
}
