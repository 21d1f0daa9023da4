// Command gofn is the Go function the `lambdoctor run` tests build and boot:
// a real aws-lambda-go function (lambda.Start) that answers an event
// {"name":"x"} with {"greeting":"hello x"}. GOFN_MODE picks a broken
// variant: "erofs" writes outside /tmp during init, "x509" fails the way a
// TLS call does without CA certificates.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Name string `json:"name"`
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
	case "tmp":
		// Writing to /tmp works on Lambda.
		if err := os.WriteFile("/tmp/cache.json", []byte("{}"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "init: %v\n", err)
			os.Exit(1)
		}
	}
	lambda.Start(handle)
}
