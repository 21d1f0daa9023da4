// Command gofn is the Go function the `lambdoctor run` tests build and boot:
// a real aws-lambda-go function (lambda.Start) that answers an event
// {"name":"x"} with {"greeting":"hello x"}. GOFN_MODE picks a broken
// variant: "erofs" writes outside /tmp during init, "x509" fails the way a
// TLS call does without CA certificates, "nosigterm" ignores SIGTERM. An
// event with "allocateMB": N makes the handler allocate and touch N MB
// before it answers (to hit the memory limit); "sleepMs": N makes it wait
// N ms first (to be caught mid-invoke).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Name       string `json:"name"`
	AllocateMB int    `json:"allocateMB"`
	SleepMs    int    `json:"sleepMs"`
}

type response struct {
	Greeting string `json:"greeting"`
	User     int    `json:"uid"`
	Group    int    `json:"gid"`
}

func handle(ctx context.Context, ev event) (response, error) {
	if ev.Name == "" {
		return response{}, errors.New("no name in the event")
	}
	if ev.SleepMs > 0 {
		fmt.Fprintln(os.Stderr, "sleeping")
		time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
	}
	if ev.AllocateMB > 0 {
		// Touch every page so the memory is really used, not just mapped.
		buf := make([]byte, ev.AllocateMB<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		runtime.KeepAlive(buf)
	}
	return response{Greeting: "hello " + ev.Name, User: os.Getuid(), Group: os.Getgid()}, nil
}

func main() {
	switch os.Getenv("GOFN_MODE") {
	case "erofs":
		// A cache written next to the code, as many libraries do at init.
		if err := os.WriteFile("/var/task/cache.json", []byte("{}"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "init: %v\n", err)
			os.Exit(1)
		}
	case "nosigterm":
		// A runtime that ignores SIGTERM, as one busy in a cleanup might:
		// Lambda's shutdown kills it after its share of the budget.
		signal.Ignore(syscall.SIGTERM)
	case "tmp":
		// Writing to /tmp works on Lambda.
		if err := os.WriteFile("/tmp/cache.json", []byte("{}"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "init: %v\n", err)
			os.Exit(1)
		}
	}
	lambda.Start(handle)
}
