package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserImportUsersAndGiveARoleSet is an admin's first day on a
// phone-sized screen: import 50 users from a CSV file with two bad rows,
// see both problems, fix them in the text area, import; then create a role
// set and give it to some of the imported users by ticking them in the list.
func TestBrowserImportUsersAndGiveARoleSet(t *testing.T) {
	ctx := newBrowser(t)
	in := serve(t, "--data", filepath.Join(t.TempDir(), "data"))

	// As PowerShell's Export-Csv writes it: a byte order mark and a
	// quoted header.
	var csv strings.Builder
	csv.WriteString("\uFEFF\"username\",\"email\",\"name\",\"phone\",\"roles\"\n")
	for i := range 50 {
		email, roles := fmt.Sprintf("emp%02d@example.com", i), "lock"
		switch i {
		case 10:
			email = "emp10@"
		case 21: // shares emp20's address: a warning only
			email = "EMP20@example.com"
		case 30:
			roles = "lock;fly"
		}
		fmt.Fprintf(&csv, "emp%02d,%s,Employee %02d,,%s\n", i, email, i, roles)
	}
	file := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 390, 844); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/users/import"),
		chromedp.WaitVisible(`input[name="file"]`),
		chromedp.SetUploadFiles(`input[name="file"]`, []string{file}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `#preview`); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-import-problems-phone")
	for _, want := range []string{"2 of 50 rows have a problem", `"emp10@" is not an email address`, `"fly" is not a portal role`} {
		if !strings.Contains(page, want) {
			t.Errorf("the preview does not say %q:\n%s", want, page)
		}
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#import").length`)); n != 0 {
		t.Error("Import is offered while rows have problems")
	}

	// Fix both rows in the text area the preview kept, and preview again.
	kept, err := chromedp.Run(ctx, chromedp.Value(`textarea[name="csv"]`))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.NewReplacer("emp10@,", "emp10@example.com,", "lock;fly", "lock").Replace(kept)
	if fixed == kept {
		t.Fatalf("the text area does not hold the file:\n%s", kept)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(`textarea[name="csv"]`, fixed)); err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `#preview`); err != nil {
		t.Fatal(err)
	}
	if ready, err := chromedp.Run(ctx, chromedp.Text(`#import-ready`)); err != nil || !strings.Contains(ready, "All 50 rows are right") {
		t.Fatalf("after fixing: %q, %v", ready, err)
	}
	if warned, err := chromedp.Run(ctx, chromedp.Text(`#import-warnings`)); err != nil || !strings.Contains(warned, "1 of 50 rows share an email address") {
		t.Errorf("the shared address: %q, %v", warned, err)
	}
	if err := clickAndLoad(ctx, `#import`); err != nil {
		t.Fatal(err)
	}
	if flash, err := chromedp.Run(ctx, chromedp.Text(`.flash`)); err != nil || !strings.Contains(flash, "Imported 50 users; 50 users were mailed") {
		t.Fatalf("after importing: %q, %v", flash, err)
	}
	screenshot(t, ctx, "admin-users-imported-phone")

	// A role set with a role that adds an entry to the user's menu.
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/rolesets"),
		chromedp.WaitVisible(`form[action="/admin/rolesets"] input[name="name"]`),
		chromedp.SendKeys(`form[action="/admin/rolesets"] input[name="name"]`, "Executive"),
		chromedp.Click(`form[action="/admin/rolesets"] input[value="change_account"]`),
		chromedp.Click(`form[action="/admin/rolesets"] input[value="wipe"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/admin/rolesets"] button[type="submit"]`); err != nil {
		t.Fatal(err)
	}

	// Give it to emp01 … emp05 at once, found by searching.
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/users?q=emp0"),
		chromedp.WaitVisible(`input[aria-label="Tick emp01"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := chromedp.Do(ctx, chromedp.Click(fmt.Sprintf(`input[aria-label="Tick emp%02d"]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	screenshot(t, ctx, "admin-users-ticked-phone")
	if err := clickAndLoad(ctx, `button[value="assign"]`); err != nil {
		t.Fatal(err)
	}
	if flash, err := chromedp.Run(ctx, chromedp.Text(`.flash`)); err != nil || !strings.Contains(flash, "Gave the role set Executive to 5 users") {
		t.Fatalf("after giving the set: %q, %v", flash, err)
	}

	effective := func(user string) string {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.URL+"/admin/users?q="+user),
			chromedp.WaitVisible(`input[aria-label="Tick `+user+`"]`),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := clickAndLoad(ctx, `table.users a`); err != nil {
			t.Fatal(err)
		}
		roles, err := chromedp.Run(ctx, chromedp.Text(`#effective-roles`))
		if err != nil {
			t.Fatal(err)
		}
		return roles
	}
	if roles := effective("emp07"); strings.Contains(roles, "Change account info") {
		t.Errorf("emp07, not ticked, has the set's roles: %q", roles)
	}
	if roles := effective("emp03"); !strings.Contains(roles, "Change account info") || !strings.Contains(roles, "Wipe") || !strings.Contains(roles, "Lock") {
		t.Errorf("emp03's effective roles are %q, want the set's and their own", roles)
	}
	screenshot(t, ctx, "admin-user-effective-roles-phone")

	// emp03 chooses a password with a link the admin sends, signs in, and
	// finds the set's role in the welcome menu.
	if err := clickAndLoad(ctx, `form[action$="/password-link"] button`); err != nil {
		t.Fatal(err)
	}
	link, err := chromedp.Run(ctx, chromedp.Text(`.flash .secret`))
	if err != nil || !strings.Contains(link, "/reset-password?t=") {
		t.Fatalf("the password link shown: %q, %v", link, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`details.welcome summary`),
		chromedp.WaitVisible(`nav.menu button`),
		chromedp.Click(`nav.menu button`),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.Navigate(strings.TrimSpace(link)),
		chromedp.WaitVisible(`input[name="password"]`),
		chromedp.SendKeys(`input[name="password"]`, "emp03-chosen-1"),
		chromedp.SendKeys(`input[name="repeat"]`, "emp03-chosen-1"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/reset-password"] button`); err != nil {
		t.Fatal(err)
	}
	if done, err := chromedp.Run(ctx, chromedp.Text("main")); err != nil || !strings.Contains(done, "is set") {
		t.Fatalf("after choosing the password: %q, %v", done, err)
	}
	if err := browserSignIn(ctx, in.URL, "emp03", "emp03-chosen-1", 390, 844); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`details.welcome summary`), chromedp.WaitVisible(`nav.menu`)); err != nil {
		t.Fatal(err)
	}
	menu, err := chromedp.Run(ctx, chromedp.Text(`nav.menu`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "role-set-menu-phone")
	if !strings.Contains(menu, "Change account info") {
		t.Errorf("emp03's menu lacks the role set's entry:\n%s", menu)
	}
}
