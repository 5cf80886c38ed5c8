// Command portico is the whole of Portico in one binary: the server, the
// administrator's tools, the device simulator and the load test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/portico-mdm/portico"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(c.run(ctx, os.Args[1:]))
}

// cli carries the process's streams and environment, so tests run commands
// in-process without touching the real ones.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// ready, when set, is told the server's URL once it listens (tests).
	ready func(url string)
}

const usage = `Usage: portico [--data DIR] [--db URL] COMMAND [flags]

Commands:
  serve                      run the server
  user add NAME --email E    create a user
  user roles NAME            grant or revoke portal roles
  settings get [KEY…]        show settings
  settings set KEY=VALUE…    change settings
  device sim                 simulate devices over the device API
  bench checkins             measure check-ins per second against a server
  migrate                    bring the database schema up to date
  backup FILE                write a consistent backup of the store (SQLite)
  restore FILE               restore a backup into an empty data directory
  version                    print the version

Every flag can also be set with an environment variable: --db is PORTICO_DB,
--tls-cert is PORTICO_TLS_CERT, and so on. Run "portico COMMAND -h" for a
command's flags.
`

func (c *cli) run(ctx context.Context, args []string) int {
	g := globals{}
	fs := c.flags("portico")
	g.define(fs, c)
	fs.Usage = func() { fmt.Fprint(c.stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return 2
	}
	commands := map[string]func(context.Context, globals, []string) error{
		"serve":    c.serve,
		"user":     c.user,
		"settings": c.settings,
		"device":   c.device,
		"bench":    c.bench,
		"migrate":  c.migrate,
		"backup":   c.backup,
		"restore":  c.restore,
		"version": func(context.Context, globals, []string) error {
			fmt.Fprintln(c.stdout, "portico", buildVersion())
			return nil
		},
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "portico: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, g, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var usageErr usageError
		if errors.As(err, &usageErr) {
			fmt.Fprintf(c.stderr, "portico %s: %s\n", args[0], usageErr)
			return 2
		}
		fmt.Fprintf(c.stderr, "portico %s: %s\n", args[0], describe(err))
		return 1
	}
	return 0
}

// describe is an error as the operator should read it: the application
// message where there is one, the whole chain otherwise.
func describe(err error) string {
	if portico.ErrorCode(err) != portico.EINTERNAL {
		return portico.ErrorMessage(err)
	}
	return err.Error()
}

type usageError string

func (u usageError) Error() string { return string(u) }

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// flags returns a flag set that reports its errors on the cli's stderr.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// env returns the environment variable for a flag: --tls-cert reads
// PORTICO_TLS_CERT.
func (c *cli) env(flagName, def string) string {
	if v := c.getenv("PORTICO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))); v != "" {
		return v
	}
	return def
}

// parse parses flags that may come before or after positional arguments
// ("user add alice --email …") and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// listFlag collects a repeatable flag such as --role.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
