// Command realimage builds the real-shaped test and benchmark images (see
// package realimage) under build/realimages/, skipping those already built
// from the current recipe:
//
//	go run ./internal/realimage/cmd/realimage [-only debian-go,debian-python] [-twins] [-dir DIR] [-mirror URL]
//
// With -twins it also makes the broken twins of debian-go (see
// realimage.Twins) next to it, for `make demo`.
//
// It needs root, debootstrap and apt (Debian), and reaches only the Debian
// mirror and the Go module proxy. With -if-possible it exits 0, saying
// why, when the machine cannot build them (not root, no debootstrap).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lambdoctor/lambdoctor/internal/realimage"
)

func main() {
	only := flag.String("only", "", "comma-separated images to build (default: all of "+strings.Join(realimage.Names, ", ")+")")
	dir := flag.String("dir", "", "where the images go (default: $"+realimage.DirEnv+", else build/realimages at the top of the repository)")
	mirror := flag.String("mirror", "", "Debian mirror (default: the one apt is configured with)")
	ifPossible := flag.Bool("if-possible", false, "exit 0 with a note when this machine cannot build the images (not root, no debootstrap)")
	quiet := flag.Bool("q", false, "print only the summary lines")
	twins := flag.Bool("twins", false, "also make the broken twins of debian-go (one defect each) next to it")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "realimage: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	names := realimage.Names
	if *only != "" {
		names = nil
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(realimage.Names, n) {
				fmt.Fprintf(os.Stderr, "realimage: unknown image %q (known: %s)\n", n, strings.Join(realimage.Names, ", "))
				os.Exit(2)
			}
			names = append(names, n)
		}
	}
	out := *dir
	if out == "" {
		var err error
		if out, err = realimage.Dir(); err != nil {
			fmt.Fprintf(os.Stderr, "realimage: %v\n", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &realimage.Builder{Dir: out, Mirror: *mirror}
	if !*quiet {
		b.Log = os.Stderr
	}
	for _, n := range names {
		start := time.Now()
		info, cached, err := b.Build(ctx, n)
		if err != nil {
			var he *realimage.HostError
			if *ifPossible && errors.As(err, &he) {
				fmt.Printf("realimage: not building the real-shaped images here: %v\n", he)
				return
			}
			fmt.Fprintf(os.Stderr, "realimage: %v\n", err)
			os.Exit(1)
		}
		how := fmt.Sprintf("built in %.1fs", time.Since(start).Seconds())
		if cached {
			how = fmt.Sprintf("cached (%s, built in %.1fs)", realimage.Version, info.Seconds)
		}
		fmt.Printf("realimage: %-13s %d layers, %s compressed, %s uncompressed, %d entries: %s, %s\n",
			n, info.Layers, mb(info.Compressed), mb(info.Uncompressed), info.Entries, info.ArchivePath(), how)
	}
	if !*twins {
		return
	}
	for _, tw := range realimage.Twins {
		start := time.Now()
		info, cached, err := b.BuildTwin(ctx, tw.Name)
		if err != nil {
			var he *realimage.HostError
			if *ifPossible && errors.As(err, &he) {
				fmt.Printf("realimage: not building the broken twins here: %v\n", he)
				return
			}
			fmt.Fprintf(os.Stderr, "realimage: %v\n", err)
			os.Exit(1)
		}
		how := fmt.Sprintf("built in %.1fs", time.Since(start).Seconds())
		if cached {
			how = fmt.Sprintf("cached (%s, built in %.1fs)", realimage.TwinsVersion, info.Seconds)
		}
		fmt.Printf("realimage: %-19s a broken twin (%s): %s, %s\n", tw.Name, tw.Finding, info.ArchivePath(), how)
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
