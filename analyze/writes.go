package analyze

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// ScriptWrite is a path a script command writes to.
type ScriptWrite struct {
	// Path is the absolute path written (created, modified or removed).
	Path string
	// How names the write: "> redirection", "mkdir", "cp destination", ...
	How string
}

// Writes returns the paths a command writes that lie outside /tmp once
// symlinks in the image are resolved: its output redirections, and the
// operands of the file utilities that create, change or remove files
// (mkdir, touch, cp, mv, install, ln, rm, tee, sed -i, chmod, chown,
// chgrp). Writes that cannot fail on a read-only root are left out: mkdir
// -p of a directory the image has, touch -c and rm -f of a missing file,
// and writableDirs. Operands only known at run time are skipped.
func (t *Target) Writes(cmd *ScriptCommand) []ScriptWrite {
	var out []ScriptWrite
	add := func(w ScriptWord, how string) {
		if p, ok := absWord(w, cmd.Dir); ok && !t.writable(p) {
			out = append(out, ScriptWrite{Path: p, How: how})
		}
	}
	for _, r := range cmd.Redirects {
		add(r.Target, r.Op+" redirection")
	}
	if !cmd.Name.Known {
		return out
	}
	name := path.Base(cmd.Name.Value)
	opts, ops := splitOptions(cmd.Args, optionsWithValue[name])
	has := func(short byte, long string) bool {
		for _, o := range opts {
			if o == "--"+long || long != "" && strings.HasPrefix(o, "--"+long+"=") || len(o) > 1 && o[0] == '-' && o[1] != '-' && strings.IndexByte(o[1:], short) >= 0 {
				return true
			}
		}
		return false
	}
	exists := func(w ScriptWord) bool {
		p, ok := absWord(w, cmd.Dir)
		if !ok {
			return true
		}
		r := t.FS.Resolve(p)
		return r.Err == nil && r.Entry != nil
	}
	switch name {
	case "mkdir":
		for _, o := range ops {
			if has('p', "parents") && exists(o) {
				continue
			}
			add(o, "mkdir")
		}
	case "touch":
		for _, o := range ops {
			if has('c', "no-create") && !exists(o) {
				continue
			}
			add(o, "touch")
		}
	case "rm", "rmdir", "unlink":
		for _, o := range ops {
			if exists(o) {
				add(o, name)
			}
		}
	case "tee":
		for _, o := range ops {
			add(o, "tee")
		}
	case "chmod", "chown", "chgrp":
		if len(ops) > 1 {
			for _, o := range ops[1:] {
				if exists(o) {
					add(o, name)
				}
			}
		}
	case "sed":
		if !has('i', "in-place") {
			break
		}
		files := ops
		if !has('e', "expression") && !has('f', "file") && len(files) > 0 {
			files = files[1:] // the script
		}
		for _, o := range files {
			add(o, "sed -i")
		}
	case "cp", "mv", "install", "ln":
		dest := ScriptWord{}
		for i, o := range opts {
			if (o == "-t" || o == "--target-directory") && i+1 < len(opts) {
				dest = ScriptWord{Value: opts[i+1], Known: true}
			}
		}
		switch {
		case dest.Known:
		case len(ops) >= 2:
			dest = ops[len(ops)-1]
		case name == "ln" && len(ops) == 1 && cmd.Dir != "":
			dest = ScriptWord{Value: path.Join(cmd.Dir, path.Base(ops[0].Value)), Known: ops[0].Known}
		case name == "install" && has('d', "directory"):
			for _, o := range ops {
				if !exists(o) {
					add(o, "install -d")
				}
			}
		}
		if dest.Known {
			add(dest, name+" destination")
		}
		if name == "mv" && len(ops) >= 2 {
			for _, o := range ops[:len(ops)-1] {
				add(o, "mv source")
			}
		}
	}
	return out
}

// optionsWithValue lists, per utility, the short options that take the
// next word as their value.
var optionsWithValue = map[string]string{
	"touch": "drt", "cp": "tS", "mv": "tS", "install": "gmotS", "ln": "tS", "sed": "ef", "mkdir": "m", "chown": "", "chmod": "",
}

// splitOptions separates options (and their values, for the short
// options in withValue) from operands; "--" ends options.
func splitOptions(args []ScriptWord, withValue string) (opts []string, ops []ScriptWord) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a.Value == "--":
			return opts, append(ops, args[i+1:]...)
		case a.Known && len(a.Value) > 1 && a.Value[0] == '-':
			opts = append(opts, a.Value)
			if len(a.Value) == 2 && strings.IndexByte(withValue, a.Value[1]) >= 0 && i+1 < len(args) {
				i++
				opts = append(opts, args[i].Value)
			}
		default:
			ops = append(ops, a)
		}
	}
	return opts, ops
}

// absWord is the absolute path a known word names, relative ones against
// dir when it is known.
func absWord(w ScriptWord, dir string) (string, bool) {
	if !w.Known || w.Value == "" {
		return "", false
	}
	p := w.Value
	if !strings.HasPrefix(p, "/") {
		if dir == "" {
			return "", false
		}
		p = path.Join(dir, p)
	}
	return path.Clean(p), true
}

// writableDirs are where a function may write: /tmp; /mnt, where Lambda
// mounts EFS file systems (their local mount path must start with /mnt/);
// and /dev, /proc, /sys, which are not the image's filesystem.
var writableDirs = []string{"/tmp", "/mnt", "/dev", "/proc", "/sys"}

// writable reports whether p can be written on Lambda: under /tmp (also
// through a symlink the image has), or under /dev, /proc or /sys, which
// are not the image's filesystem.
func (t *Target) writable(p string) bool {
	under := func(x, dir string) bool { return x == dir || strings.HasPrefix(x, dir+"/") }
	for _, d := range writableDirs {
		if under(p, d) {
			return true
		}
	}
	// A symlink on the way may lead into /tmp. For a missing path, Final
	// is the first missing component (symlinks before it followed) joined
	// with the rest.
	r := t.FS.Resolve(p)
	if r.Final == "" || r.Err != nil && !errors.Is(r.Err, fs.ErrNotExist) {
		return false
	}
	for _, d := range writableDirs {
		if under(r.Final, d) {
			return true
		}
	}
	return false
}
