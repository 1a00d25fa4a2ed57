// Command xgate is the XMPP gateway: an XEP-0114 external component that bridges
// users of an existing XMPP server to IRC, SMS and email.
//
// Usage:
//
//	xgate [run] -c xgate.yaml      run the gateway (the default subcommand)
//	xgate check-config -c FILE     validate a configuration and exit (0 ok, 2 invalid)
//	xgate migrate -c FILE          create or upgrade the database schema and exit
//	xgate version                  print the version
//
// This is the only package that knows every other one: it wires them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"xgate/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func realMain(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "xgate", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	case "run", "check-config", "migrate":
	default:
		fmt.Fprintf(stderr, "xgate: unknown subcommand %q\n", cmd)
		usage(stderr)
		return exitConfig
	}

	cfg, err := config.Load(args, environ)
	if errors.Is(err, pflag.ErrHelp) {
		usage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "xgate: invalid configuration:\n%v\n", err)
		return exitConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "check-config":
		fmt.Fprintf(stdout, "configuration is valid; transports: %s\n\n%s\n", enabledTransports(cfg), cfg.Redacted())
		return exitOK
	case "migrate":
		if err := migrate(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "xgate: migrate: %v\n", err)
			return exitFailure
		}
		return exitOK
	default:
		if err := run(ctx, cfg, stderr); err != nil {
			if errors.Is(err, errConfig) {
				fmt.Fprintf(stderr, "xgate: %v\n", err)
				return exitConfig
			}
			fmt.Fprintf(stderr, "xgate: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: xgate [run|check-config|migrate|version] [-c FILE] [--key=value ...]

  run            run the gateway (default)
  check-config   validate the configuration and exit (exit code 2 when invalid)
  migrate        create or upgrade the database schema and exit
  version        print the version

Flags:
`+config.NewFlagSet("xgate").FlagUsages()+`
Configuration: defaults < YAML file (-c) < XGATE_* environment < flags.
See docs/configuration.md.
`)
}
