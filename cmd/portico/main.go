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
	"strconv"
	"strings"
	"syscall"
	"time"

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
  user reset-2fa NAME        switch a user's two-step sign-in off
  settings get [KEY…]        show settings
  settings set KEY=VALUE…    change settings
  device sim                 simulate devices over the device API or Apple MDM
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
	if v := c.getenv(envName(flagName)); v != "" {
		return v
	}
	return def
}

func envName(flagName string) string {
	return "PORTICO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envDefaults reads the defaults of typed flags from the environment. It
// keeps the first value that does not parse, so that a command defines its
// flags in one go and then reports the variable that is wrong.
type envDefaults struct {
	c   *cli
	err error
}

func (d *envDefaults) parse(flagName, want string, parse func(string) error) {
	v := d.c.env(flagName, "")
	if v == "" {
		return
	}
	if err := parse(v); err != nil && d.err == nil {
		d.err = usageError(fmt.Sprintf("%s=%q is not %s", envName(flagName), v, want))
	}
}

func (d *envDefaults) int(flagName string, def int) int {
	d.parse(flagName, "a whole number", func(v string) error {
		n, err := strconv.Atoi(v)
		if err == nil {
			def = n
		}
		return err
	})
	return def
}

func (d *envDefaults) duration(flagName string, def time.Duration) time.Duration {
	d.parse(flagName, "a duration such as 30s", func(v string) error {
		t, err := time.ParseDuration(v)
		if err == nil {
			def = t
		}
		return err
	})
	return def
}

func (d *envDefaults) bool(flagName string) bool {
	var b bool
	d.parse(flagName, "true or false", func(v string) (err error) {
		b, err = strconv.ParseBool(v)
		return err
	})
	return b
}

// list reads a repeatable flag's values, separated by commas.
func (d *envDefaults) list(flagName string) listFlag {
	var l listFlag
	for v := range strings.SplitSeq(d.c.env(flagName, ""), ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.values = append(l.values, v)
		}
	}
	l.fromEnv = len(l.values) > 0
	return l
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

// listFlag collects a repeatable flag such as --role. Values from the
// environment are only a default: the command line replaces them.
type listFlag struct {
	values  []string
	fromEnv bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if l.fromEnv {
		l.values, l.fromEnv = nil, false
	}
	l.values = append(l.values, v)
	return nil
}
