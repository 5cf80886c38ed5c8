package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/portico-mdm/portico"
)

func (c *cli) settings(ctx context.Context, g globals, args []string) error {
	if len(args) == 0 || (args[0] != "get" && args[0] != "set") {
		return usageError("say `settings get [KEY…]` or `settings set KEY=VALUE…`")
	}
	fs := c.flags("settings " + args[0])
	g.define(fs, c)
	operands, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if args[0] == "set" {
		return c.settingsSet(ctx, g, operands)
	}
	for _, key := range operands {
		if _, err := portico.LookupSetting(key); err != nil {
			return err
		}
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	values, err := svc.Settings(ctx)
	if err != nil {
		return err
	}
	if len(operands) == 0 {
		for _, s := range portico.Settings {
			operands = append(operands, s.Key)
		}
	}
	for _, key := range operands {
		fmt.Fprintf(c.stdout, "%s=%s\n", key, values.Get(key))
	}
	return nil
}

func (c *cli) settingsSet(ctx context.Context, g globals, operands []string) error {
	if len(operands) == 0 {
		return usageError("give at least one KEY=VALUE")
	}
	values := map[string]string{}
	for _, kv := range operands {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return usageError(fmt.Sprintf("%q is not KEY=VALUE", kv))
		}
		values[key] = value
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := svc.SetSettings(ctx, values); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Saved %d setting(s).\n", len(values))
	return nil
}
