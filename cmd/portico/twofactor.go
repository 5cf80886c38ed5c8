package main

import (
	"context"
	"fmt"
)

// userResetTwoFactor switches a user's second factor off: the way back in
// for an administrator who lost both phone and recovery codes.
func (c *cli) userResetTwoFactor(ctx context.Context, g globals, args []string) error {
	fs := c.flags("user reset-2fa")
	g.define(fs, c)
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usageError("give exactly one user name: portico user reset-2fa NAME")
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	u, err := svc.ResetTwoFactorOf(ctx, names[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Two-step sign-in of %s is off: they sign in with their password and can set it up again.\n", u.Username)
	return nil
}
