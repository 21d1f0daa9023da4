package analyze

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
)

// This file finds a class on a java command's class path the way the java
// launcher builds it (the java(1) man page): -cp, -classpath or
// --class-path, else the CLASSPATH variable, else the working directory;
// entries separated by ":", relative ones against the working directory;
// "dir/*" stands for the .jar and .JAR files in dir; an entry ending in
// .jar or .zip is an archive, anything else a directory of class files.

// Bounds of the jar reads.
const (
	maxJarRead   = 128 << 20 // one jar
	maxJarsTotal = 512 << 20 // every jar of one search
)

// javaClassPath returns the class path entries of a java link, or why it
// cannot be known.
func javaClassPath(t *Target, l *Link) ([]string, string) {
	wd := path.Join("/", t.Argv().WorkingDir)
	cp, set := "", false
	for j := 0; j < len(l.Args); j++ {
		a := l.Args[j]
		switch {
		case (a == "-cp" || a == "-classpath" || a == "--class-path") && j+1 < len(l.Args):
			cp, set = l.Args[j+1], true
			j++
		case strings.HasPrefix(a, "--class-path="):
			cp, set = strings.TrimPrefix(a, "--class-path="), true
		case a == "-p" || a == "--module-path" || strings.HasPrefix(a, "--module-path=") || a == "--upgrade-module-path" || strings.HasPrefix(a, "-Djava.system.class.loader") || strings.HasPrefix(a, "-Xbootclasspath"):
			return nil, fmt.Sprintf("the java command sets %s, which adds classes beyond the class path", a)
		case strings.HasPrefix(a, "@"):
			return nil, fmt.Sprintf("the java command reads arguments from the file %s", a[1:])
		case a == "-jar":
			return nil, "java -jar takes its class path from the jar's manifest"
		case !strings.HasPrefix(a, "-"):
			j = len(l.Args) // the main class: the rest are its arguments
		}
	}
	env := t.Config().Env
	for _, v := range []string{"JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"} {
		if s, ok := Getenv(env, v); ok && (strings.Contains(s, "-cp") || strings.Contains(s, "class.path") || strings.Contains(s, "-classpath")) {
			return nil, fmt.Sprintf("%s may set the class path", v)
		}
	}
	if !set {
		if v, ok := Getenv(env, "CLASSPATH"); ok {
			cp, set = v, true
		}
	}
	if !set {
		cp = "."
	}
	if strings.Contains(cp, "$") {
		return nil, fmt.Sprintf("the class path %q holds a variable", cp)
	}
	var out []string
	for _, e := range strings.Split(cp, ":") {
		if e == "" {
			e = "."
		}
		if !strings.HasPrefix(e, "/") {
			e = path.Join(wd, e)
		}
		out = append(out, e)
	}
	return out, ""
}

// classSearch is the outcome of a search for a class on a class path.
type classSearch struct {
	Found string // the directory or jar holding it, "" when none
	// Incomplete says why an absence cannot be claimed ("" when every
	// entry was read).
	Incomplete string
	// Looked lists the entries and the jars read.
	Looked []string
}

// findJavaClass looks for class (dotted) in the class path entries.
func findJavaClass(t *Target, entries []string, class string) classSearch {
	var s classSearch
	member := strings.ReplaceAll(class, ".", "/") + ".class"
	var total int64
	readJar := func(p string) bool {
		r := t.FS.Resolve(p)
		if r.Err != nil || r.Entry == nil || !r.Entry.IsRegular() {
			return false
		}
		if err := SandboxAccess(t.FS, r, PermRead); err != nil {
			s.Looked = append(s.Looked, fmt.Sprintf("%s: unreadable (%v)", p, err))
			return false
		}
		if r.Entry.Size > maxJarRead || total+r.Entry.Size > maxJarsTotal {
			s.Incomplete = fmt.Sprintf("%s was not read (%d bytes)", p, r.Entry.Size)
			return false
		}
		total += r.Entry.Size
		b, err := t.FS.ReadFile(strings.TrimPrefix(r.Final, "/"))
		if err != nil {
			s.Incomplete = fmt.Sprintf("reading %s: %v", p, err)
			return false
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			s.Incomplete = fmt.Sprintf("%s is not a readable jar: %v", p, err)
			return false
		}
		s.Looked = append(s.Looked, fmt.Sprintf("%s (%d entries)", p, len(zr.File)))
		for _, f := range zr.File {
			switch f.Name {
			case member:
				return true
			case "META-INF/MANIFEST.MF":
				if rc, err := f.Open(); err == nil {
					sc := bufio.NewScanner(rc)
					for sc.Scan() {
						if strings.HasPrefix(strings.ToLower(sc.Text()), "class-path:") {
							s.Incomplete = fmt.Sprintf("%s's manifest extends the class path (Class-Path)", p)
						}
					}
					rc.Close()
				}
			}
		}
		return false
	}
	for _, e := range entries {
		switch {
		case path.Base(e) == "*":
			dir := path.Dir(e)
			ents, err := t.FS.ReadDir(strings.TrimPrefix(dir, "/"))
			if err != nil {
				s.Looked = append(s.Looked, dir+"/*: no such directory")
				continue
			}
			var jars []string
			for _, de := range ents {
				if n := de.Name(); !de.IsDir() && (strings.HasSuffix(n, ".jar") || strings.HasSuffix(n, ".JAR")) {
					jars = append(jars, path.Join(dir, n))
				}
			}
			sort.Strings(jars)
			if len(jars) == 0 {
				s.Looked = append(s.Looked, dir+"/*: no jar")
			}
			for _, j := range jars {
				if readJar(j) {
					s.Found = j
					return s
				}
			}
		case strings.HasSuffix(e, ".jar") || strings.HasSuffix(e, ".zip") || strings.HasSuffix(e, ".JAR"):
			if readJar(e) {
				s.Found = e
				return s
			}
			if r := t.FS.Resolve(e); r.Err != nil || r.Entry == nil {
				s.Looked = append(s.Looked, e+": no such file")
			}
		default:
			if r := t.FS.Resolve(path.Join(e, member)); r.Err == nil && r.Entry != nil {
				s.Found = e
				return s
			}
			s.Looked = append(s.Looked, fmt.Sprintf("%s/%s: no such file", e, member))
		}
	}
	return s
}

// javaExtJars reports a Java 8 extension directory with jars next to the
// java binary at p (jre/lib/ext is on every class path there).
func javaExtJars(t *Target, p string) string {
	r := t.FS.Resolve(p)
	if r.Err != nil || r.Entry == nil {
		return ""
	}
	home := path.Dir(path.Dir(r.Final))
	for _, d := range []string{path.Join(home, "lib/ext"), path.Join(home, "jre/lib/ext"), path.Join(path.Dir(home), "lib/ext")} {
		if ents, err := t.FS.ReadDir(strings.TrimPrefix(d, "/")); err == nil {
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".jar") {
					return d
				}
			}
		}
	}
	return ""
}

// JavaHandlerClass is where the Java client would load the handler's class
// from.
type JavaHandlerClass struct {
	// Class is the handler's class (the handler up to its last "::").
	Class string
	// Found is the directory or jar holding it, "" when none does.
	Found string
	// Entries are the places searched, in order; Looked what was read.
	Entries, Looked []string
}

// FindJavaHandlerClass looks for the handler's class where the Java runtime
// interface client loads it (AWSLambda.java, CustomerClassLoader.java): the
// JVM's class path first (the loader's parent), then the working directory
// (user.dir) as a class directory, the jars in its lib/, and the jars in
// /opt/java/lib. It returns an ErrNotApplicable error when the client is
// not Java's, the handler is not a literal, or the search cannot be
// complete.
func FindJavaHandlerClass(t *Target) (*JavaHandlerClass, error) {
	a := t.RIC()
	if a.Client.Name != ClientJava || a.Link < 0 {
		return nil, fmt.Errorf("%w: the Java runtime interface client is not started", ErrNotApplicable)
	}
	if !a.Handler.Set || !a.Handler.Known || a.Handler.Value == "" {
		return nil, fmt.Errorf("%w: the handler is not a literal argument", ErrNotApplicable)
	}
	h := a.Handler.Value
	class := h
	if i := strings.LastIndex(h, "::"); i >= 0 {
		class = h[:i]
	}
	if class == "" || strings.ContainsAny(class, "/ ") {
		return nil, fmt.Errorf("%w: %q is not a class name", ErrNotApplicable, class)
	}
	l := &t.Chain().Links[a.Link]
	entries, why := javaClassPath(t, l)
	if why != "" {
		return nil, fmt.Errorf("%w: %s", ErrNotApplicable, why)
	}
	if d := javaExtJars(t, l.Path); d != "" {
		return nil, fmt.Errorf("%w: %s holds jars on every class path", ErrNotApplicable, d)
	}
	wd := path.Join("/", t.Argv().WorkingDir)
	entries = append(entries, wd, path.Join(wd, "lib/*"), "/opt/java/lib/*")
	s := findJavaClass(t, entries, class)
	if s.Found == "" && s.Incomplete != "" {
		return nil, fmt.Errorf("%w: %s", ErrNotApplicable, s.Incomplete)
	}
	return &JavaHandlerClass{Class: class, Found: s.Found, Entries: entries, Looked: s.Looked}, nil
}
