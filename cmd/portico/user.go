package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
)

// operator opens the store and returns a service acting as the operator at
// the command line, who has the run of the data directory anyway.
func (c *cli) operator(ctx context.Context, g globals) (context.Context, *service.Service, func(), error) {
	db, err := g.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	svc := service.New(service.Config{Store: db, Passwords: secret.Default})
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "cli"})
	return ctx, svc, func() { db.Close() }, nil
}

func (c *cli) user(ctx context.Context, g globals, args []string) error {
	if len(args) == 0 {
		return usageError("say `user add NAME --email E` or `user roles NAME --grant ROLE`")
	}
	switch args[0] {
	case "add":
		return c.userAdd(ctx, g, args[1:])
	case "roles":
		return c.userRoles(ctx, g, args[1:])
	case "reset-2fa":
		return c.userResetTwoFactor(ctx, g, args[1:])
	}
	return usageError(fmt.Sprintf("unknown user command %q; use add, roles or reset-2fa", args[0]))
}

func (c *cli) userAdd(ctx context.Context, g globals, args []string) error {
	fs := c.flags("user add")
	g.define(fs, c)
	var nu service.NewUser
	var passwordStdin bool
	env := envDefaults{c: c}
	roles := env.list("role")
	fs.StringVar(&nu.Email, "email", c.env("email", ""), "email address, required (PORTICO_EMAIL)")
	fs.StringVar(&nu.Name, "name", c.env("name", ""), "full name (PORTICO_NAME)")
	fs.StringVar(&nu.Phone, "phone", c.env("phone", ""), "phone number, for SMS invitations (PORTICO_PHONE)")
	fs.BoolVar(&passwordStdin, "password-stdin", env.bool("password-stdin"), "read the password from the first line of standard input; otherwise one is generated and printed (PORTICO_PASSWORD_STDIN)")
	fs.Var(&roles, "role", "portal role to grant, repeat for more (PORTICO_ROLE, comma-separated)")
	fs.BoolVar(&nu.Admin, "admin", env.bool("admin"), "make the user an administrator (PORTICO_ADMIN)")
	if env.err != nil {
		return env.err
	}
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usageError("give exactly one user name: portico user add NAME --email E")
	}
	nu.Username = names[0]
	if nu.Roles, err = portico.ParseRoles(roles.values); err != nil {
		return err
	}
	if passwordStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if nu.Password = strings.TrimRight(line, "\r\n"); nu.Password == "" {
			return usageError(fmt.Sprintf("--password-stdin read no password (%v)", err))
		}
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	u, password, err := svc.CreateUser(ctx, nu)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Created user %s (roles: %s).\n", u.Username, roleNames(u.Roles))
	if !passwordStdin {
		fmt.Fprintf(c.stdout, "Password (shown once): %s\n", password)
	}
	return nil
}

func (c *cli) userRoles(ctx context.Context, g globals, args []string) error {
	fs := c.flags("user roles")
	g.define(fs, c)
	env := envDefaults{c: c}
	grant, revoke := env.list("grant"), env.list("revoke")
	fs.Var(&grant, "grant", "portal role to grant, repeat for more (PORTICO_GRANT, comma-separated)")
	fs.Var(&revoke, "revoke", "portal role to revoke, repeat for more (PORTICO_REVOKE, comma-separated)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usageError("give exactly one user name: portico user roles NAME --grant ROLE")
	}
	granted, err := portico.ParseRoles(grant.values)
	if err != nil {
		return err
	}
	revoked, err := portico.ParseRoles(revoke.values)
	if err != nil {
		return err
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	u, err := svc.ChangeRoles(ctx, names[0], granted, revoked)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s has the roles: %s\n", u.Username, roleNames(u.Roles))
	return nil
}

func roleNames(roles []portico.Role) string {
	if len(roles) == 0 {
		return "none"
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
