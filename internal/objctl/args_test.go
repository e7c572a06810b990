package objctl

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"strings"
	"testing"

	"cairn/internal/adminapi"
)

func TestArgumentErrors(t *testing.T) {
	t.Parallel()
	// Nothing may reach the server: every mistake is caught first.
	srv := newSignedServer(t, func(c call) (int, any) { return http.StatusTeapot, adminapi.Error{Error: "unexpected call"} })
	tests := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"layout"}, "layout: want show, add-node"},
		{[]string{"layout", "--json"}, "layout: want show, add-node"},
		{[]string{"layout", "explode"}, `unknown command "layout explode"`},
		{[]string{"status", "extra"}, `status takes no arguments, got ["extra"]`},
		{[]string{"--bogus", "status"}, "flag provided but not defined: -bogus"},
		{[]string{"status", "--bogus"}, "status: flag provided but not defined: -bogus"},
		{[]string{"layout", "add-node", "--zone", "a"}, "layout add-node: want ID --zone ZONE [--weight W], got []"},
		{[]string{"layout", "add-node", "n7"}, "--zone is required"},
		{[]string{"layout", "add-node", "n7", "n8", "--zone", "a"}, `got ["n7" "n8"]`},
		{[]string{"layout", "add-node", "n7", "--zone", "a", "--weight", "-1"}, "--weight -1: want a positive number"},
		{[]string{"layout", "add-node", "n7", "--zone", "a", "--weight", "0"}, "--weight 0: want a positive number"},
		{[]string{"layout", "add-node", "n7", "--zone", "a", "--weight", "lots"}, "invalid value"},
		{[]string{"layout", "add-node", "", "--zone", "a"}, "empty node ID"},
		{[]string{"layout", "set-weight", "n1"}, "want ID WEIGHT"},
		{[]string{"layout", "set-weight", "n1", "heavy"}, `weight "heavy": want a positive number`},
		{[]string{"layout", "set-weight", "n1", "0"}, `weight "0": want a positive number`},
		{[]string{"layout", "set-weight", "n1", "+Inf"}, `weight "+Inf": want a positive number`},
		{[]string{"layout", "remove-node"}, "want ID"},
		{[]string{"layout", "apply", "now"}, "layout apply: want [--yes] [--wait]"},
		{[]string{"layout", "apply", "--zone", "a"}, "flag provided but not defined: -zone"},
		{[]string{"layout", "revert", "n1"}, "layout revert takes no arguments"},
		{[]string{"drain"}, "drain: want ID [--wait]"},
		{[]string{"drain", "n1", "--yes"}, "flag provided but not defined: -yes"},
		{[]string{"heal", "b1"}, "heal: want [--bucket B] [--wait]"},
		{[]string{"durability", "--afr", "1.5"}, "--afr 1.5: want a fraction in (0, 1)"},
		{[]string{"durability", "--afr", "0"}, "--afr 0: want a fraction in (0, 1)"},
		{[]string{"status", "--timeout", "0s"}, "--timeout 0s: want a positive duration"},
	}
	for _, tc := range tests {
		env := newTestEnv(srv.URL, nil)
		err := env.run(tc.args...)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("objctl %q: err %v, want a usage error with %q", tc.args, err, tc.want)
		}
		if code := Main(context.Background(), tc.args, env.Env); code != 2 {
			t.Errorf("objctl %q: exit code %d, want 2", tc.args, code)
		}
	}
	if calls := srv.callList(); len(calls) != 0 {
		t.Errorf("bad command lines reached the server: %q", calls)
	}
}

func TestSettingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no access key", map[string]string{"CAIRN_ACCESS_KEY": ""}, []string{"status"}, "no credentials"},
		{"bad endpoint", nil, []string{"--endpoint", "localhost:9001", "status"}, "want http://host:port"},
		{"unreadable CA", nil, []string{"status", "--ca-cert", "/nonexistent.pem"}, "--ca-cert: no files in this test"},
	}
	for _, tc := range tests {
		env := newTestEnv("http://127.0.0.1:1", tc.vars)
		err := env.run(tc.args...)
		var ue *UsageError
		if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want a failure with %q", tc.name, err, tc.want)
		}
		if code := Main(context.Background(), tc.args, env.Env); code != 1 {
			t.Errorf("%s: exit code %d, want 1", tc.name, code)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	env := newTestEnv("http://127.0.0.1:1", map[string]string{"CAIRN_SECRET_KEY": "do-not-print-me"})
	if err := env.run("-h"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	help := env.stdout.String()
	for _, want := range []string{"layout add-node ID --zone ZONE [--weight W]", "drain ID [--wait]", "-endpoint", "CAIRN_ADMIN_ENDPOINT", "-timeout"} {
		if !strings.Contains(help, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if strings.Contains(help, "do-not-print-me") {
		t.Error("usage printed the secret key from the environment")
	}
	if code := Main(context.Background(), []string{"layout", "apply", "-h"}, env.Env); code != 0 {
		t.Errorf("layout apply -h: exit %d", code)
	}
	if !strings.Contains(env.stdout.String(), "Usage: objctl layout apply [--yes] [--wait]") {
		t.Errorf("layout apply -h printed %q", env.stdout.String())
	}

	env = newTestEnv("http://127.0.0.1:1", nil)
	if err := env.run("--version"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(env.stdout.String(), "objctl ") {
		t.Errorf("--version printed %q", env.stdout.String())
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	t.Parallel()
	srv := newSignedServer(t, func(c call) (int, any) { return http.StatusOK, adminapi.Durability{DataShards: 4, ParityShards: 2} })
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"CAIRN_* variables", nil, nil},
		{"AWS_* variables as the fallback",
			map[string]string{"CAIRN_ACCESS_KEY": "", "CAIRN_SECRET_KEY": "", "AWS_ACCESS_KEY_ID": testAccess, "AWS_SECRET_ACCESS_KEY": testSecret}, nil},
		{"CAIRN_* win over AWS_*", map[string]string{"AWS_ACCESS_KEY_ID": "other", "AWS_SECRET_ACCESS_KEY": "other"}, nil},
		{"flags win over the environment",
			map[string]string{"CAIRN_ACCESS_KEY": "other", "CAIRN_SECRET_KEY": "other", "CAIRN_REGION": "xx", "CAIRN_ADMIN_ENDPOINT": "http://127.0.0.1:1"},
			[]string{"--access-key", testAccess, "--secret-key", testSecret, "--region", testRegion, "--endpoint", srv.URL}},
	}
	for _, tc := range tests {
		env := newTestEnv(srv.URL, tc.vars)
		// Global flags go before or after the command.
		args := append(append([]string{}, tc.args[:len(tc.args)/2]...), "durability")
		args = append(args, tc.args[len(tc.args)/2:]...)
		if err := env.run(args...); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
