package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Loader reads one command's settings from, in order of precedence, its
// command-line flags, CAIRN_* environment variables, a YAML file and the
// defaults. Each setting is one flag ("listen"), one variable
// ("CAIRN_LISTEN") and one top-level YAML key, named like the flag:
//
//	listen: 0.0.0.0:9000
//	nodes: [n1=10.0.0.1:9101@a, n2=10.0.0.2:9101@b]   # or one comma-separated string
//	log-level: debug
//
// The file is named by --config or CAIRN_CONFIG. Every value, whatever its
// source, is parsed by Load, so that all problems are reported together.
type Loader struct {
	fs      *flag.FlagSet
	fields  []*field
	config  *string
	version *bool
}

// field is one setting.
type field struct {
	name, env, def string
	set            func(string) error // parses and stores a value
	raw            string             // value given on the command line
	fromFlag       bool
}

// flagValue collects a flag's text; Load parses it later with the others.
type flagValue struct{ f *field }

func (v flagValue) String() string {
	if v.f == nil {
		return ""
	}
	return v.f.def
}

func (v flagValue) Set(s string) error {
	v.f.raw, v.f.fromFlag = s, true
	return nil
}

// NewLoader returns a loader for the command name with --config and
// --version already registered.
func NewLoader(name string) *Loader {
	l := &Loader{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	l.config = l.fs.String("config", "", "YAML file of settings, keyed by flag name (env CAIRN_CONFIG)")
	l.version = l.fs.Bool("version", false, "print the version and exit")
	return l
}

// SetOutput sets where usage and flag errors go.
func (l *Loader) SetOutput(w io.Writer) { l.fs.SetOutput(w) }

// Version reports whether --version was given; valid after Load.
func (l *Loader) Version() bool { return *l.version }

// EnvName is the variable that sets the flag name when none is given
// explicitly: CAIRN_ and the name upper-cased, '-' becoming '_'.
func EnvName(name string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (l *Loader) add(name, env, def, usage string, set func(string) error) {
	if env == "" {
		env = EnvName(name)
	}
	f := &field{name: name, env: env, def: def, set: set}
	l.fields = append(l.fields, f)
	l.fs.Var(flagValue{f}, name, fmt.Sprintf("%s (env %s)", usage, env))
}

// String registers a string setting; env "" means EnvName(name).
func (l *Loader) String(p *string, name, env, def, usage string) {
	l.add(name, env, def, usage, func(s string) error { *p = s; return nil })
}

// Int registers an integer setting.
func (l *Loader) Int(p *int, name, env string, def int, usage string) {
	l.add(name, env, strconv.Itoa(def), usage, func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not an integer")
		}
		*p = v
		return nil
	})
}

// Int64 registers a 64-bit integer setting.
func (l *Loader) Int64(p *int64, name, env string, def int64, usage string) {
	l.add(name, env, strconv.FormatInt(def, 10), usage, func(s string) error {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		*p = v
		return nil
	})
}

// Duration registers a duration setting ("90s", "1h").
func (l *Loader) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	l.add(name, env, def.String(), usage, func(s string) error {
		v, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration (e.g. 90s, 1h)")
		}
		*p = v
		return nil
	})
}

// Load parses args and then resolves every setting: a flag in args wins
// over the environment (looked up with env), which wins over the YAML
// file (read with readFile), which wins over the default. It returns
// flag.ErrHelp for -h, and otherwise every problem found, joined: unknown
// or badly typed keys in the file and values that do not parse. A syntax
// error in args stops it at once, since the rest of args cannot be trusted.
func (l *Loader) Load(args []string, env func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	if err := l.fs.Parse(args); err != nil {
		return err
	}
	if l.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", l.fs.Args())
	}
	var errs []error
	path := *l.config
	if path == "" {
		path, _ = env("CAIRN_CONFIG")
	}
	var file map[string]string
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file: %w", err))
		} else {
			var ferrs []error
			file, ferrs = l.parseFile(path, data)
			errs = append(errs, ferrs...)
		}
	}
	for _, f := range l.fields {
		val, src := f.def, "default"
		if f.fromFlag {
			val, src = f.raw, "flag"
		} else if v, ok := env(f.env); ok {
			val, src = v, "env "+f.env
		} else if v, ok := file[f.name]; ok {
			val, src = v, "config file "+path
		}
		if err := f.set(val); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q (from %s): %w", f.name, val, src, err))
		}
	}
	return errors.Join(errs...)
}

// parseFile flattens a YAML mapping into flag-style strings: scalars as
// written, sequences joined with commas.
func (l *Loader) parseFile(path string, data []byte) (map[string]string, []error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	out := make(map[string]string, len(doc))
	var errs []error
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys) // errors in a stable order
	for _, k := range keys {
		if !slices.ContainsFunc(l.fields, func(f *field) bool { return f.name == k }) {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, k))
			continue
		}
		s, err := scalarText(doc[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, k, err))
			continue
		}
		out[k] = s
	}
	return out, errs
}

func scalarText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := scalarText(e)
			if err != nil || strings.Contains(s, ",") {
				return "", errors.New("want a list of plain values")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("want a value or a list, not %T", v)
	}
}

// OSEnv looks variables up in the process environment (os.LookupEnv).
func OSEnv(name string) (string, bool) { return os.LookupEnv(name) }
