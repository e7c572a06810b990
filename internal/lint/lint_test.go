// Package lint holds no code, only tests that enforce Cairn's layering rules
// (STYLE.md B2) the way pebble's internal/lint does: by asking the go command
// what each package imports and by reading the pure packages' source.
//
// The rules:
//
//   - The pure (L0) packages placement, quorum, erasure and metadata import
//     no os, net, net/http, log or log/slog (nor os/exec, os/signal, syscall),
//     and depend on no other Cairn package.
//   - Not even through a dependency do they pull in net, net/http, log,
//     log/slog or os/exec. (os itself cannot be checked transitively: fmt
//     imports it.)
//   - Their non-test source never uses time.Now, time.Sleep or other clock
//     reads and timers, nor the global math/rand functions: time and
//     randomness come in as values.
//   - gateway does not depend on node, nor node on gateway: they meet only at
//     transport.NodeClient.
//
// A rule whose package does not exist yet is skipped with a log line.
package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// purePackages are the L0 packages, relative to the module root.
var purePackages = []string{"placement", "quorum", "erasure", "metadata"}

// forbiddenImports may not be imported directly by a pure package.
var forbiddenImports = []string{"os", "os/exec", "os/signal", "net", "net/http", "log", "log/slog", "syscall"}

// forbiddenDeps may not be reached even through dependencies. os and syscall
// are missing because fmt, and so nearly everything, imports them.
var forbiddenDeps = []string{"net", "net/http", "log", "log/slog", "os/exec"}

// forbiddenTime are the package time functions that read the clock or wait.
var forbiddenTime = map[string]string{
	"Now":       "reads the clock",
	"Since":     "reads the clock",
	"Until":     "reads the clock",
	"Sleep":     "waits on the clock",
	"After":     "waits on the clock",
	"AfterFunc": "waits on the clock",
	"Tick":      "waits on the clock",
	"NewTimer":  "waits on the clock",
	"NewTicker": "waits on the clock",
}

// allowedRand are the math/rand and math/rand/v2 names that build or name a
// generator passed in as a value; every other package-level function draws
// from the global one.
var allowedRand = map[string]bool{
	"New": true, "NewSource": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
	"Rand": true, "Source": true, "Source64": true, "PCG": true, "ChaCha8": true, "Zipf": true,
}

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath     string
	Dir            string
	Imports        []string
	Deps           []string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	Error          *struct{ Err string }
}

// env locates the go command and the module.
type env struct {
	goCmd  string
	root   string // module root directory
	module string // module path
}

func newEnv(t *testing.T) env {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := exec.LookPath(goCmd); err != nil {
			t.Skipf("go command not available: %v", err)
		}
	}
	e := env{goCmd: goCmd}
	gomod := strings.TrimSpace(e.run(t, ".", "env", "GOMOD"))
	if gomod == "" || gomod == "/dev/null" {
		t.Skip("not inside a module")
	}
	e.root = filepath.Dir(gomod)
	e.module = strings.TrimSpace(e.run(t, e.root, "list", "-m"))
	return e
}

func (e env) run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(e.goCmd, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// list returns the packages matching pattern (relative to the module root),
// or none when it matches nothing.
func (e env) list(t *testing.T, pattern string) []pkg {
	t.Helper()
	out := e.run(t, e.root, "list", "-e", "-json=ImportPath,Dir,Imports,Deps,GoFiles,CgoFiles,IgnoredGoFiles,Error", pattern)
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list %s: decoding output: %v", pattern, err)
		}
		// A pattern that matches an empty directory yields a package
		// whose only content is a "no Go files" error: it does not exist yet.
		if p.Error != nil && len(p.GoFiles)+len(p.CgoFiles)+len(p.IgnoredGoFiles) == 0 && strings.Contains(p.Error.Err, "no Go files") {
			continue
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// listTree lists the package in dir and the packages below it.
func (e env) listTree(t *testing.T, dir string) []pkg {
	t.Helper()
	return e.list(t, "./"+dir+"/...")
}

// inTree reports whether import path p is root or below it.
func inTree(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// checkImports applies the import rules for pure packages. treeRoot is the
// import path of the pure package's directory: its own subpackages may
// import each other.
func checkImports(p pkg, module, treeRoot string) []string {
	var v []string
	if p.Error != nil {
		v = append(v, fmt.Sprintf("%s: go list cannot load it, so its imports cannot be checked: %s", p.ImportPath, p.Error.Err))
	}
	for _, imp := range p.Imports {
		if slices.Contains(forbiddenImports, imp) {
			v = append(v, fmt.Sprintf("%s imports %s: pure packages do no I/O or logging; take it as a value or an interface (STYLE B2.2)", p.ImportPath, imp))
		}
	}
	for _, dep := range p.Deps {
		if slices.Contains(forbiddenDeps, dep) && !slices.Contains(p.Imports, dep) {
			v = append(v, fmt.Sprintf("%s depends on %s through an import: pure packages must not pull in I/O or logging (STYLE B2.2)", p.ImportPath, dep))
		}
		if inTree(dep, module) && !inTree(dep, treeRoot) {
			v = append(v, fmt.Sprintf("%s depends on %s: pure packages import no other Cairn package (STYLE B2)", p.ImportPath, dep))
		}
	}
	return v
}

// checkNoDep reports a dependency of p on the tree rooted at forbidden.
func checkNoDep(p pkg, forbidden, why string) []string {
	var v []string
	for _, dep := range p.Deps {
		if inTree(dep, forbidden) {
			v = append(v, fmt.Sprintf("%s depends on %s: %s", p.ImportPath, dep, why))
		}
	}
	return v
}

// checkSource parses p's non-test files, including those excluded by build
// constraints on this platform, and reports uses of the clock and of the
// global random generator. Uses count whether called or not: passing
// time.Now along is a clock read too.
func checkSource(p pkg) []string {
	var v []string
	fset := token.NewFileSet()
	files := slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles)
	slices.Sort(files)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(p.Dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			v = append(v, fmt.Sprintf("%s: cannot parse: %v", path, err))
			continue
		}
		v = append(v, checkFile(fset, p.ImportPath, f)...)
	}
	return v
}

func checkFile(fset *token.FileSet, importPath string, f *ast.File) []string {
	var v []string
	// Local name → imported path, for the packages the rules are about.
	watched := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if path != "time" && path != "math/rand" && path != "math/rand/v2" {
			continue
		}
		name := "rand"
		if path == "time" {
			name = "time"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		switch name {
		case "_":
			continue
		case ".":
			v = append(v, fmt.Sprintf("%s: dot import of %s hides clock and random calls from review", fset.Position(imp.Pos()), path))
			continue
		}
		watched[name] = path
	}
	if len(watched) == 0 {
		return v
	}
	// Names declared in a function shadow an import within it. The check is
	// coarse (a declaration anywhere in a function shadows the name in the
	// whole function), which can only miss a violation in code that reuses
	// a package name for a variable.
	for _, d := range f.Decls {
		shadowed := map[string]bool{}
		if fn, ok := d.(*ast.FuncDecl); ok {
			shadowed = declaredNames(fn)
		}
		ast.Inspect(d, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || shadowed[id.Name] {
				return true
			}
			path, ok := watched[id.Name]
			if !ok {
				return true
			}
			pos := fset.Position(sel.Pos())
			if path == "time" {
				if why, bad := forbiddenTime[sel.Sel.Name]; bad {
					v = append(v, fmt.Sprintf("%s: %s uses time.%s, which %s: pure packages take time as a value (STYLE B2.2)", pos, importPath, sel.Sel.Name, why))
				}
			} else if ast.IsExported(sel.Sel.Name) && !allowedRand[sel.Sel.Name] {
				v = append(v, fmt.Sprintf("%s: %s uses %s.%s, the global random generator: take a *rand.Rand as a value (STYLE B2.2)", pos, importPath, path, sel.Sel.Name))
			}
			return true
		})
	}
	return v
}

// declaredNames returns the names a function declares: receiver, parameters,
// results, variables and constants.
func declaredNames(fn *ast.FuncDecl) map[string]bool {
	names := map[string]bool{}
	addFields := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				names[n.Name] = true
			}
		}
	}
	addFields(fn.Recv)
	addFields(fn.Type.Params)
	addFields(fn.Type.Results)
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				names[id.Name] = true
			}
		case *ast.FuncLit:
			addFields(n.Type.Params)
			addFields(n.Type.Results)
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, x := range []ast.Expr{n.Key, n.Value} {
					if id, ok := x.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		}
		return true
	})
	return names
}

func report(t *testing.T, violations []string) {
	t.Helper()
	for _, v := range violations {
		t.Error(v)
	}
}

func TestPureImports(t *testing.T) {
	e := newEnv(t)
	for _, dir := range purePackages {
		t.Run(dir, func(t *testing.T) {
			pkgs := e.listTree(t, dir)
			if len(pkgs) == 0 {
				t.Skipf("package %s does not exist yet", dir)
			}
			for _, p := range pkgs {
				report(t, checkImports(p, e.module, e.module+"/"+dir))
			}
		})
	}
}

func TestPureSource(t *testing.T) {
	e := newEnv(t)
	for _, dir := range purePackages {
		t.Run(dir, func(t *testing.T) {
			pkgs := e.listTree(t, dir)
			if len(pkgs) == 0 {
				t.Skipf("package %s does not exist yet", dir)
			}
			for _, p := range pkgs {
				report(t, checkSource(p))
			}
		})
	}
}

func TestServiceLayering(t *testing.T) {
	e := newEnv(t)
	rules := []struct{ from, forbidden string }{
		{"gateway", "node"},
		{"node", "gateway"},
	}
	for _, r := range rules {
		t.Run(r.from+"-"+r.forbidden, func(t *testing.T) {
			pkgs := e.listTree(t, r.from)
			if len(pkgs) == 0 {
				t.Skipf("package %s does not exist yet", r.from)
			}
			why := "gateway and node meet only at transport.NodeClient; only internal/clustertest wires them together (STYLE B2.1)"
			for _, p := range pkgs {
				report(t, checkNoDep(p, e.module+"/"+r.forbidden, why))
			}
		})
	}
}

// TestLintCatchesViolations runs every check on testdata/violations, which
// breaks each rule once, so that a check that has stopped working fails here
// instead of passing silently.
func TestLintCatchesViolations(t *testing.T) {
	e := newEnv(t)
	pkgs := e.list(t, "./internal/lint/testdata/violations")
	if len(pkgs) != 1 {
		t.Fatalf("listing testdata/violations gave %d packages; want 1", len(pkgs))
	}
	p := pkgs[0]
	got := slices.Concat(
		checkImports(p, e.module, p.ImportPath),
		checkSource(p),
		checkNoDep(p, e.module+"/metadata", "test rule"),
	)
	want := []string{
		"imports os:",
		"imports net/http:",
		"depends on net through an import",
		"depends on log through an import", // net/http imports log
		"depends on cairn/metadata: pure packages",
		"uses time.Sleep",
		"uses time.Now",
		"uses math/rand/v2.IntN",
		"depends on cairn/metadata: test rule",
	}
	for _, w := range want {
		n := 0
		for _, g := range got {
			if strings.Contains(g, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("violations matching %q: %d; want 1", w, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d violations; want %d (the Fine function must not be reported):\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
