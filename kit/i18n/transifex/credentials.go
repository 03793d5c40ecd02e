package transifex

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are the API address and token a Client needs, and where the token came from.
type Credentials struct {
	RestHostname string
	Token        string
	// Source says where the token was found ("KIT_TRANSIFEX_TOKEN", "TX_TOKEN",
	// "~/.transifexrc [https://www.transifex.com]"), for messages.
	Source string
}

// String never shows the token.
func (c Credentials) String() string {
	return fmt.Sprintf("transifex credentials for %s from %s", c.RestHostname, c.Source)
}

// GoString never shows the token either.
func (c Credentials) GoString() string { return c.String() }

// CredentialOptions change where ResolveCredentials looks; the zero value reads the process's
// environment and ~/.transifexrc.
type CredentialOptions struct {
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// RCFile is the .transifexrc path (default $HOME/.transifexrc).
	RCFile string
	// RestHostname overrides the API address.
	RestHostname string
}

// ResolveCredentials finds the token as the tx CLI does, with Stackkit's variable first:
//
//  1. KIT_TRANSIFEX_TOKEN, then TX_TOKEN, from the environment;
//  2. otherwise the token key of the ~/.transifexrc section named by .tx/config's [main] host
//     (an old-style section with username = api takes its password as the token).
//
// The API address is that section's rest_hostname, else DefaultRestHostname. cfg may be nil
// (then the section is DefaultHost's). Errors name files and keys, never values.
func ResolveCredentials(cfg *Config, o CredentialOptions) (Credentials, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	host := DefaultHost
	if cfg != nil && cfg.Host != "" {
		host = cfg.Host
	}
	rcFile := o.RCFile
	if rcFile == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			rcFile = filepath.Join(home, ".transifexrc")
		}
	}
	var section *iniSection
	if rcFile != "" {
		data, err := os.ReadFile(rcFile)
		switch {
		case err == nil:
			secs, err := parseINI(data, rcFile)
			if err != nil {
				return Credentials{}, fmt.Errorf("%w: %w", ErrConfig, err)
			}
			for _, s := range secs {
				if s.name == host {
					section = s
				}
			}
		case !errors.Is(err, fs.ErrNotExist):
			return Credentials{}, fmt.Errorf("transifex: reading %s: %w", rcFile, err)
		}
	}
	creds := Credentials{RestHostname: DefaultRestHostname}
	if section != nil {
		if v, _ := section.get("rest_hostname"); v != "" {
			creds.RestHostname = v
		}
	}
	if o.RestHostname != "" {
		creds.RestHostname = o.RestHostname
	}
	for _, name := range []string{"KIT_TRANSIFEX_TOKEN", "TX_TOKEN"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			creds.Token, creds.Source = v, name
			return creds, nil
		}
	}
	if section != nil {
		where := fmt.Sprintf("%s [%s]", rcFile, host)
		if v, _ := section.get("token"); v != "" {
			creds.Token, creds.Source = v, where+" token"
			return creds, nil
		}
		if u, _ := section.get("username"); u == "api" {
			if v, _ := section.get("password"); v != "" {
				creds.Token, creds.Source = v, where+" password"
				return creds, nil
			}
		}
		return Credentials{}, configErrorf("%s has no token: set KIT_TRANSIFEX_TOKEN or TX_TOKEN, or add token = ... to that section", where)
	}
	if rcFile == "" {
		return Credentials{}, configErrorf("no API token: set KIT_TRANSIFEX_TOKEN or TX_TOKEN")
	}
	return Credentials{}, configErrorf("no API token: set KIT_TRANSIFEX_TOKEN or TX_TOKEN, or add a [%s] section with token = ... to %s", host, rcFile)
}

// NewFromCredentials is New with the credentials' token, address and source.
func NewFromCredentials(c Credentials, opts ...Option) (*Client, error) {
	return New(c.Token, append([]Option{WithBaseURL(c.RestHostname), WithTokenSource(c.Source)}, opts...)...)
}
