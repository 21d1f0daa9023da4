// Package analyze derives the facts about one container image that
// lambdoctor's checks judge: the command Lambda starts and how argv[0] is
// looked up, what the sandbox user may read, search and execute, the
// entrypoint chain through scripts, shells and wrappers, the shell scripts
// on it read as their shell runs them (commands certain to run, set -e,
// guards, functions, the writes they make; shell.go, scripts.go,
// writes.go), busybox's applet table, the ELF files on
// it with their loader and libraries (ld.so.cache, ld.so.conf), the
// runtime interface client the chain starts and the handler it loads, the
// TLS stack and the CA files it reads, and the image's sizes.
//
// A Target holds one image; each fact is computed once, on first use, and
// kept in its own typed field. The package reads the image only through
// imagefs, never a layer directly, and knows nothing of checks or reports:
// package checks holds the rules that turn these facts into findings.
package analyze
