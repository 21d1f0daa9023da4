package cmd

import (
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every flag of every command can be set from the environment, as trivy,
// hadolint and dockle allow (CI systems set variables more easily than
// they edit command lines): LAMBDOCTOR_ and the flag's name in capitals,
// dashes as underscores. A flag given on the command line wins over its
// variable, and a variable over .lambdoctor.yaml: the variable sets the
// flag as if it had been given (it is Changed), so everything that asks
// "was --arch given?" sees it. This is done once, for the command that
// runs, by the root's PersistentPreRunE; flags added to any command are
// covered without more code.

// envPrefix starts every variable that sets a flag.
const envPrefix = "LAMBDOCTOR_"

// envAnnotation marks a flag set from the environment; its value is the
// variable's name.
const envAnnotation = "lambdoctor-env"

// envSkip are the flags no variable sets: cobra's help and version, and
// --config, whose variable LAMBDOCTOR_CONFIG config.Find reads itself
// (its messages name it).
var envSkip = []string{"help", "version", "config"}

// envName is the variable that sets flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// isRepeatable reports whether a flag takes a list: given once per item
// on the command line, as a comma-separated list in its variable.
func isRepeatable(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice")
}

// applyEnv sets the flags of c that the command line did not give from
// their variables. An empty variable counts as unset. A value the flag
// rejects is a usage error naming the variable.
func applyEnv(c *cobra.Command, getenv func(string) string) error {
	var err error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Hidden || slices.Contains(envSkip, f.Name) {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err = setFromEnv(c.Flags(), f, v); err != nil {
			err = usageError("%s=%q: %v", name, v, err)
			return
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{name}
	})
	return err
}

// setFromEnv gives flag f the value v as the command line would: each
// item of a list, or the value.
func setFromEnv(fs *pflag.FlagSet, f *pflag.Flag, v string) error {
	items := []string{v}
	if isRepeatable(f) {
		var err error
		if items, err = splitEnvList(v); err != nil {
			return err
		}
	}
	for _, item := range items {
		if err := fs.Set(f.Name, item); err != nil {
			return fmt.Errorf("not a valid --%s: %s", f.Name, valueHint(f, err))
		}
	}
	return nil
}

// splitEnvList splits a list variable at its commas; an item holding a
// comma is written in double quotes, as in CSV (RFC 4180).
func splitEnvList(v string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(v))
	r.TrimLeadingSpace = true
	items, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("not a comma-separated list (put an item holding a comma or a quote in double quotes, doubling its quotes): %v", err)
	}
	for i, item := range items {
		if strings.TrimSpace(item) == "" {
			return nil, fmt.Errorf("item %d of the list is empty", i+1)
		}
	}
	return items, nil
}

// valueHint says what a flag of f's type takes, for a value it refused.
func valueHint(f *pflag.Flag, err error) string {
	switch f.Value.Type() {
	case "bool":
		return "want true or false (or 1 or 0)"
	case "duration":
		return "want a duration such as 30s, 2m or 1h30m"
	case "int", "int64", "uint", "uint64":
		return "want a whole number"
	}
	return err.Error()
}

// envNote adds to a usage error, for each flag of c that a variable set
// and that the message names, where its value came from: the checks that
// read flags name the flag, which the user did not type.
func envNote(c *cobra.Command, err error) error {
	if c == nil || err == nil {
		return err
	}
	msg := err.Error()
	var notes []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		name := f.Annotations[envAnnotation]
		if len(name) == 0 || !mentionsFlag(msg, f.Name) {
			return
		}
		notes = append(notes, fmt.Sprintf("--%s comes from %s", f.Name, name[0]))
	})
	if len(notes) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
}

// mentionsFlag reports whether msg names --flag as a whole word.
func mentionsFlag(msg, flag string) bool {
	re := regexp.MustCompile(`(^|[^-\w])--` + regexp.QuoteMeta(flag) + `($|[^-\w])`)
	return re.MatchString(msg)
}

// envHelp documents the variables of every command that has flags, at
// the end of its long help (and so of docs/cli).
func envHelp(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		var vars []string
		hasConfig := false
		// Inherited flags are not merged before parsing: look at both.
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if f.Name == "config" {
					hasConfig = true
				}
				if f.Hidden || slices.Contains(envSkip, f.Name) {
					return
				}
				vars = append(vars, envName(f.Name))
			})
		}
		if len(vars) == 0 || c.Hidden {
			return
		}
		slices.Sort(vars)
		vars = slices.Compact(vars)
		text := "Every flag can also be set by a variable named LAMBDOCTOR_ and the flag's name in capitals, dashes as underscores (LAMBDOCTOR_FAIL_ON=warning is --fail-on warning). A flag on the command line wins over its variable, and the variable over .lambdoctor.yaml; an empty variable is ignored. A repeatable flag's variable holds a comma-separated list (LAMBDOCTOR_IGNORE=LD104,LD203:/opt/**), an item holding a comma in double quotes."
		if hasConfig {
			text += " LAMBDOCTOR_CONFIG names the config file, as --config does."
		}
		text += " Here: " + strings.Join(vars, ", ") + "."
		long := c.Long
		if long == "" {
			long = c.Short
		}
		c.Long = strings.TrimRight(long, "\n") + "\n\nEnvironment:\n" + wrapIndent(text, 2, 78)
	}
	walk(root)
}

// wrapIndent wraps text at width columns, each line indented by indent
// spaces.
func wrapIndent(text string, indent, width int) string {
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	line := pad
	for _, w := range strings.Fields(text) {
		if len(line) > indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = pad
		}
		if len(line) > indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
